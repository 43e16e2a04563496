// The shopper app's entry point: registers the service worker (offline
// shell, receipt pushes), declares the routes and renders the first view.

import { session } from "./api.js";
import { accountView, cardView, deviceView, homeView, logInView, signUpView, welcomeView } from "./account.js";
import { entryView } from "./entry.js";
import { receiptView, receiptsView } from "./receipts.js";
import { interceptLinks, navigate, onRender, render, route } from "./router.js";
import { toast } from "./ui.js";

/// Views that need a signed-in shopper send others to the welcome page.
function signedIn(view) {
  return (params) => (session() ? view(params) : navigate("/app/", { replace: true }));
}

route("/app", homeView);
route("/app/welcome", welcomeView);
route("/app/signup", signUpView);
route("/app/login", logInView);
route("/app/card", signedIn(cardView));
route("/app/device", signedIn(deviceView));
route("/app/entry", entryView);
route("/app/receipts", signedIn(receiptsView));
route("/app/receipts/:id", signedIn(receiptView));
route("/app/account", signedIn(accountView));

function showNav() {
  document.getElementById("tabs").hidden = !session();
}

async function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  try {
    await navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" });
  } catch (e) {
    console.warn("service worker not registered:", e);
  }
  // A push arrived while the app is open: say so, and show it if on the receipts list.
  navigator.serviceWorker.addEventListener("message", (event) => {
    if (event.data?.type !== "push") return;
    toast(`${event.data.title}: ${event.data.body}`);
    if (location.pathname === "/app/receipts") render();
  });
}

window.addEventListener("online", () => document.body.classList.remove("is-offline"));
window.addEventListener("offline", () => document.body.classList.add("is-offline"));
if (!navigator.onLine) document.body.classList.add("is-offline");

interceptLinks();
onRender(showNav);
registerServiceWorker();
render().finally(() => document.body.setAttribute("data-ready", ""));
