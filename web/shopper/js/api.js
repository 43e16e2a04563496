// Talking to the accounts API (`/api/v1`, documented at /openapi.json): the
// session's bearer token, JSON in and out, and the API's errors
// (`{"error": {"code", "message"}}`) as exceptions with their code.

const SESSION_KEY = "walkout.session";
/// The service worker's cache of API answers (receipts), cleared at log out.
export const API_CACHE = "walkout-api";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/// `{token, shopperId, expiresAt}` of the signed-in shopper, or null.
export function session() {
  try {
    const s = JSON.parse(localStorage.getItem(SESSION_KEY));
    return s && s.token && s.expiresAt > Date.now() ? s : null;
  } catch {
    return null;
  }
}

export function saveSession(signedIn) {
  const s = { token: signedIn.token, shopperId: signedIn.shopper_id, expiresAt: signedIn.expires_at };
  localStorage.setItem(SESSION_KEY, JSON.stringify(s));
  return s;
}

export async function clearSession() {
  localStorage.removeItem(SESSION_KEY);
  if (self.caches) await caches.delete(API_CACHE);
}

/// Calls the API; resolves to the JSON body (null when empty) and marks
/// answers the service worker served from its cache with `fromCache`.
export async function api(method, path, body) {
  const headers = { accept: "application/json" };
  const s = session();
  if (s) headers.authorization = `Bearer ${s.token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "offline", "No connection: try again when you are online.");
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) {
    const error = json && json.error ? json.error : { code: `http_${response.status}`, message: response.statusText };
    throw new ApiError(response.status, error.code, error.message);
  }
  if (json && typeof json === "object" && response.headers.get("x-walkout-cache") === "offline") {
    Object.defineProperty(json, "fromCache", { value: true });
  }
  return json;
}
