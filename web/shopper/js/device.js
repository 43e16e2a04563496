// The phone's entry key and entry tokens. The Ed25519 key pair is made by
// WebCrypto as non-extractable (the private key can sign, never be read)
// and kept in IndexedDB; only its public half is sent to the server. Tokens
// are drawn and signed here, offline, in the one format the gate verifies:
//   wo1.<base64url(claims JSON)>.<base64url(Ed25519 signature over "wo1.<claims part>")>

const DB_NAME = "walkout";
const STORE = "device";
/// Longest token lifetime the gate accepts (`visit::token::MAX_LIFETIME_S`).
export const TOKEN_LIFETIME_S = 30;
/// Most guests one account may bring (`visit::token::MAX_GUESTS`).
export const MAX_GUESTS = 8;

function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function withStore(mode, action) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = action(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

/// `{shopperId, deviceId, keys}` of this phone, or null before registration.
export function loadDevice() {
  return withStore("readonly", (s) => s.get("current")).then((d) => d ?? null);
}

export function saveDevice(device) {
  return withStore("readwrite", (s) => s.put(device, "current"));
}

export function forgetDevice() {
  return withStore("readwrite", (s) => s.delete("current"));
}

export function b64url(bytes) {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/// A new non-extractable Ed25519 key pair and its raw public key (base64url).
export async function newKeyPair() {
  const keys = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", keys.publicKey));
  return { keys, publicKey: b64url(raw) };
}

/// Draws and signs a fresh entry token for `device` with `guests` guests,
/// valid from `nowS` (unix seconds) for the longest lifetime the gate allows.
export async function drawToken(device, guests, nowS = Math.floor(Date.now() / 1000)) {
  const jti = b64url(crypto.getRandomValues(new Uint8Array(16)));
  const claims = {
    account: device.shopperId,
    device: device.deviceId,
    iat: nowS,
    exp: nowS + TOKEN_LIFETIME_S,
    jti,
    guests: Math.max(0, Math.min(MAX_GUESTS, guests | 0)),
  };
  const signed = `wo1.${b64url(new TextEncoder().encode(JSON.stringify(claims)))}`;
  const signature = await crypto.subtle.sign({ name: "Ed25519" }, device.keys.privateKey, new TextEncoder().encode(signed));
  return { token: `${signed}.${b64url(new Uint8Array(signature))}`, claims };
}
