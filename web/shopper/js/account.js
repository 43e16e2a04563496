// Signing up and in, adding a card, registering this phone, push
// notifications, and the account page.

import { api, clearSession, saveSession, session } from "./api.js";
import { forgetDevice, loadDevice, newKeyPair, saveDevice } from "./device.js";
import { navigate } from "./router.js";
import { formValues, h, show, submitting, toast } from "./ui.js";

/// The server's app settings (payment provider, sandbox test cards).
async function config() {
  const response = await fetch("/app/config.json");
  if (!response.ok) throw new Error("cannot load the app settings");
  return response.json();
}

function field(label, name, type, extra = {}) {
  return h("label", {}, label, h("input", { name, type, required: true, ...extra }));
}

export function welcomeView() {
  show(
    h("section", { class: "welcome" },
      h("img", { src: "/app/icons/icon-192.png", alt: "", width: 96, height: 96 }),
      h("h1", {}, "Walk in, take what you need, walk out"),
      h("p", {}, "Show your code at the gate. We charge your card when you leave and send the receipt here."),
      h("a", { class: "button", href: "/app/signup", id: "go-signup" }, "Create an account"),
      h("a", { class: "button secondary", href: "/app/login", id: "go-login" }, "I have an account")));
}

export function signUpView() {
  const form = h("form", { id: "signup-form" },
    h("h1", {}, "Create your account"),
    field("Name", "display_name", "text", { autocomplete: "name", maxlength: 100 }),
    field("E-mail", "email", "email", { autocomplete: "email" }),
    field("Password (at least 10 characters)", "password", "password", { autocomplete: "new-password", minlength: 10 }),
    h("p", { class: "error", role: "alert" }),
    h("button", { type: "submit" }, "Sign up"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submitting(form, async () => {
      saveSession(await api("POST", "/api/v1/accounts", formValues(form)));
      await navigate("/app/card", { replace: true });
    });
  });
  show(form);
}

export function logInView() {
  const form = h("form", { id: "login-form" },
    h("h1", {}, "Log in"),
    field("E-mail", "email", "email", { autocomplete: "email" }),
    field("Password", "password", "password", { autocomplete: "current-password" }),
    h("p", { class: "error", role: "alert" }),
    h("button", { type: "submit" }, "Log in"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submitting(form, async () => {
      saveSession(await api("POST", "/api/v1/sessions", formValues(form)));
      await navigate("/app/", { replace: true });
    });
  });
  show(form);
}

/// Sandbox: pick one of the provider's test cards. With a real provider the
/// card is entered in the provider's own hosted form, never on our pages.
export async function cardView() {
  const settings = await config();
  if (!settings.test_cards.length) {
    show(h("section", {}, h("h1", {}, "Add a card"),
      h("p", {}, `Cards are added in ${settings.payment_provider}'s secure card form, so your card number never reaches this store.`),
      h("p", { class: "error" }, "That form is not available in this app yet: add your card on the store's website.")));
    return;
  }
  const form = h("form", { id: "card-form" },
    h("h1", {}, "Add a card"),
    h("p", {}, "This store runs the sandbox payment provider: choose a test card. No real money moves."),
    h("fieldset", {}, h("legend", {}, "Test card"),
      settings.test_cards.map((card, i) => h("label", { class: "choice" },
        h("input", { type: "radio", name: "provider_token", value: card.token, checked: i === 0 }),
        `${card.brand.toUpperCase()} •••• ${card.last4}`, h("small", {}, card.behaviour)))),
    h("p", { class: "error", role: "alert" }),
    h("button", { type: "submit" }, "Add card"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const card = settings.test_cards.find((c) => c.token === formValues(form).provider_token);
      await api("POST", "/api/v1/payment-methods", { provider_token: card.token, brand: card.brand, last4: card.last4 });
      toast(`${card.brand.toUpperCase()} •••• ${card.last4} added`);
      await navigate((await loadDevice()) ? "/app/account" : "/app/device", { replace: true });
    });
  });
  show(form);
}

function deviceLabel() {
  const ua = navigator.userAgent;
  const os = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Linux/.test(ua) ? "Linux" : "phone";
  return `Web app on ${os}`;
}

/// Makes this phone's entry key and registers its public half.
export async function registerDevice() {
  const s = session();
  const { keys, publicKey } = await newKeyPair();
  const device = await api("POST", "/api/v1/devices", { public_key: publicKey, label: deviceLabel() });
  await saveDevice({ shopperId: s.shopperId, deviceId: device.device_id, keys });
}

export function deviceView() {
  const form = h("form", { id: "device-form" },
    h("h1", {}, "Use this phone to enter"),
    h("p", {}, "This phone makes a key that only it can use, and signs a fresh entry code every few seconds, even without a signal at the door."),
    h("p", { class: "error", role: "alert" }),
    h("button", { type: "submit" }, "Register this phone"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submitting(form, async () => {
      await registerDevice();
      await navigate("/app/entry", { replace: true });
    });
  });
  show(form);
}

/// How long the browser's push service may take to hand out a subscription.
const PUSH_SUBSCRIBE_S = 20;

/// `promise`, or an error with `message` after `seconds`.
function within(seconds, promise, message) {
  let timer;
  const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(message)), seconds * 1000)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/// Subscribes to receipt pushes through the service worker.
export async function enablePush() {
  if (!("PushManager" in window) || !navigator.serviceWorker) {
    throw new Error("This browser cannot receive push messages; receipts still come by e-mail.");
  }
  if ((await Notification.requestPermission()) !== "granted") {
    throw new Error("Notifications are blocked for this site: allow them in the browser's settings.");
  }
  const registration = await navigator.serviceWorker.ready;
  const { applicationServerKey } = await api("GET", "/api/v1/push/key");
  // A browser without a reachable push service never answers: give up in time.
  const subscription = (await registration.pushManager.getSubscription())
    ?? (await within(PUSH_SUBSCRIBE_S, registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey }),
      "the browser's push service did not answer"));
  await api("POST", "/api/v1/push/subscriptions", subscription.toJSON());
}

export async function accountView() {
  const [me, cards, device] = await Promise.all([
    api("GET", "/api/v1/me").catch(() => null),
    api("GET", "/api/v1/payment-methods").catch(() => []),
    loadDevice(),
  ]);
  const pushStatus = h("p", { id: "push-status" },
    "Notification" in window && Notification.permission === "granted" ? "Notifications are allowed." : "");
  const pushButton = h("button", { type: "button", class: "secondary", id: "push-on" }, "Send receipts to this phone");
  pushButton.addEventListener("click", async () => {
    pushButton.disabled = true;
    try {
      await enablePush();
      pushStatus.textContent = "Receipts will arrive on this phone.";
    } catch (e) {
      pushStatus.textContent = `Could not turn on notifications: ${e.message}`;
    } finally {
      pushButton.disabled = false;
    }
  });
  const logOut = h("button", { type: "button", class: "secondary", id: "log-out" }, "Log out");
  logOut.addEventListener("click", async () => {
    if (device) await api("DELETE", `/api/v1/devices/${device.deviceId}`).catch(() => null);
    await api("DELETE", "/api/v1/sessions").catch(() => null);
    await forgetDevice();
    await clearSession();
    await navigate("/app/", { replace: true });
  });
  show(h("section", { class: "account" },
    h("h1", {}, me ? me.display_name : "Your account"),
    me ? h("p", {}, me.email, h("br"), `Loyalty points: ${me.loyalty_points}`) : h("p", {}, "Offline: account details need a connection."),
    h("h2", {}, "Cards"),
    h("ul", { class: "cards" }, cards.map((c) => h("li", {}, `${c.brand.toUpperCase()} •••• ${c.last4}`, c.is_default ? " (default)" : ""))),
    h("a", { class: "button secondary", href: "/app/card" }, "Add a card"),
    h("h2", {}, "This phone"),
    h("p", {}, device ? "Registered for entry." : "Not registered yet."),
    device ? null : h("a", { class: "button secondary", href: "/app/device" }, "Register this phone"),
    pushButton, pushStatus,
    logOut));
}

/// Where a signed-in shopper starts: the missing setup step, else the entry code.
export async function homeView() {
  if (!session()) return welcomeView();
  const device = await loadDevice();
  if (device && device.shopperId === session().shopperId) return navigate("/app/entry", { replace: true });
  if (device) await forgetDevice();
  const cards = await api("GET", "/api/v1/payment-methods").catch(() => null);
  return navigate(cards && cards.length === 0 ? "/app/card" : "/app/device", { replace: true });
}
