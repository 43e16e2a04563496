// The shopper app's service worker: keeps the app shell (so the entry code
// opens without a signal), keeps the last receipts, and turns receipt pushes
// into notifications that open the receipt. The server fills in VERSION and
// PRECACHE from the assets embedded in the binary.

const VERSION = "__VERSION__";
const PRECACHE = __PRECACHE__;
const SHELL_CACHE = `walkout-shell-${VERSION}`;
const API_CACHE = "walkout-api";
/// Receipts fetched ahead for offline reading, newest first.
const PREFETCH_RECEIPTS = 5;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(PRECACHE)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith("walkout-shell-") && key !== SHELL_CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

function offlineAnswer() {
  const body = JSON.stringify({ error: { code: "offline", message: "No connection, and nothing saved on this phone for this page." } });
  return new Response(body, { status: 503, headers: { "content-type": "application/json" } });
}

/// API reads: the network when there is one (and keep the answer), else the kept answer, marked.
async function networkFirst(request, event) {
  const cache = await caches.open(API_CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) {
      await cache.put(request, response.clone());
      if (new URL(request.url).pathname === "/api/v1/receipts") event.waitUntil(prefetch(response.clone(), request));
    }
    return response;
  } catch {
    const kept = await cache.match(request);
    if (!kept) return offlineAnswer();
    const headers = new Headers(kept.headers);
    headers.set("x-walkout-cache", "offline");
    return new Response(await kept.blob(), { status: kept.status, headers });
  }
}

/// Keeps the newest receipts (and their disputes) so they open offline.
async function prefetch(listResponse, listRequest) {
  const cache = await caches.open(API_CACHE);
  const auth = listRequest.headers.get("authorization");
  const receipts = await listResponse.json().catch(() => []);
  for (const r of receipts.slice(0, PREFETCH_RECEIPTS)) {
    for (const path of [`/api/v1/receipts/${encodeURIComponent(r.id)}`, `/api/v1/receipts/${encodeURIComponent(r.id)}/disputes`]) {
      const request = new Request(path, { headers: auth ? { authorization: auth } : {} });
      const response = await fetch(request).catch(() => null);
      if (response && response.ok) await cache.put(request, response);
    }
  }
}

/// The shell and its assets come from the cache; anything else under /app/ from the network.
async function fromShell(request) {
  const cache = await caches.open(SHELL_CACHE);
  const url = new URL(request.url);
  const kept = await cache.match(request.mode === "navigate" ? "/app/" : url.pathname);
  if (kept) return kept;
  try {
    return await fetch(request);
  } catch {
    return offlineAnswer();
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (/^\/api\/v1\/receipts(\/[^/]+(\/disputes)?)?$/.test(url.pathname)) {
    event.respondWith(networkFirst(request, event));
  } else if (url.pathname === "/app" || url.pathname.startsWith("/app/")) {
    event.respondWith(fromShell(request));
  }
});

/// Only pages of this app may be opened from a notification.
function appUrl(candidate) {
  const url = new URL(candidate || "/app/receipts", self.location.origin);
  return url.origin === self.location.origin && url.pathname.startsWith("/app/") ? url : new URL("/app/receipts", self.location.origin);
}

self.addEventListener("push", (event) => {
  let message = null;
  try {
    message = event.data ? event.data.json() : null;
  } catch {
    message = null;
  }
  if (!message || typeof message.title !== "string") {
    message = { title: "Walkout", body: "You have a new receipt.", url: "/app/receipts" };
  }
  const url = appUrl(message.url);
  event.waitUntil((async () => {
    await self.registration.showNotification(message.title, {
      body: message.body,
      tag: url.pathname,
      icon: "/app/icons/icon-192.png",
      badge: "/app/icons/icon-192.png",
      data: { url: url.pathname, total: message.total },
    });
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    windows.forEach((w) => w.postMessage({ type: "push", title: message.title, body: message.body, url: url.pathname }));
  })());
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = appUrl(event.notification.data && event.notification.data.url);
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const open = windows.find((w) => new URL(w.url).pathname.startsWith("/app"));
    if (open) {
      await open.focus();
      return open.navigate(url.href);
    }
    return self.clients.openWindow(url.href);
  })());
});
