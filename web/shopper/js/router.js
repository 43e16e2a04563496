// Client-side routes under /app/ (the server answers every such path with
// the same shell, and so does the service worker when offline).

const routes = [];
const afterRender = [];
let cleanup = null;
let rendering = 0;

/// `route("/app/receipts/:id", view)`: the view gets the named parts and may
/// return a function that stops what it started (timers) when the page changes.
export function route(pattern, view) {
  const re = new RegExp(`^${pattern.replace(/:(\w+)/g, "(?<$1>[^/]+)")}/?$`);
  routes.push({ re, view });
}

/// Runs `hook` after every view has rendered (the tab bar follows the session).
export function onRender(hook) {
  afterRender.push(hook);
}

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState({}, "", path);
  else history.pushState({}, "", path);
  return render();
}

/// Renders the view of the current location.
export async function render() {
  const ticket = ++rendering;
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const path = location.pathname;
  document.querySelectorAll("nav a").forEach((a) => {
    const here = path === a.getAttribute("href") || path.startsWith(`${a.getAttribute("href")}/`);
    if (here) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  for (const { re, view } of routes) {
    const match = re.exec(path);
    if (!match) continue;
    const stop = await view(match.groups ?? {});
    if (typeof stop === "function") {
      if (ticket === rendering) cleanup = stop;
      else stop();
    }
    if (ticket === rendering) afterRender.forEach((hook) => hook());
    return;
  }
  return navigate("/app/", { replace: true });
}

/// Follows in-app links without reloading the page.
export function interceptLinks() {
  document.addEventListener("click", (event) => {
    const a = event.target.closest("a[href^='/app/']");
    if (!a || event.metaKey || event.ctrlKey || event.shiftKey || a.target) return;
    event.preventDefault();
    navigate(a.getAttribute("href"));
  });
  window.addEventListener("popstate", render);
}
