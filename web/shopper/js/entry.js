// The entry screen: a fresh signed entry token every 15 seconds, drawn as a
// QR code big enough for the gate's scanner, and a guest counter. Works
// without a connection: the key, the account and the device id are on the phone.

import { session } from "./api.js";
import { MAX_GUESTS, drawToken, loadDevice } from "./device.js";
import { drawQr, encodeQr } from "./qr.js";
import { navigate } from "./router.js";
import { h, show } from "./ui.js";

/// A new token long before the last one expires (tokens live 30 s).
const REFRESH_S = 15;
const GUESTS_KEY = "walkout.guests";

function partyText(guests) {
  if (guests === 0) return "Just you";
  return `You + ${guests} guest${guests === 1 ? "" : "s"}`;
}

/// Pixels per module so the code fills the screen's width (crisp on any pixel ratio).
function fit(canvas, qr) {
  const ratio = window.devicePixelRatio || 1;
  const room = Math.min(document.documentElement.clientWidth - 32, 480);
  const scale = Math.max(2, Math.floor((room * ratio) / (qr.size + 8)));
  drawQr(canvas, qr, scale);
  canvas.style.width = `${canvas.width / ratio}px`;
  canvas.style.height = `${canvas.height / ratio}px`;
}

export async function entryView() {
  const device = await loadDevice();
  const s = session();
  if (!device || (s && device.shopperId !== s.shopperId)) return navigate("/app/", { replace: true });
  let guests = Math.min(MAX_GUESTS, Number(sessionStorage.getItem(GUESTS_KEY)) || 0);
  let next = 0;
  const canvas = h("canvas", { id: "entry-qr", role: "img", "aria-label": "Your entry code" });
  const countdown = h("p", { class: "countdown", id: "countdown", "aria-live": "off" });
  const party = h("output", { id: "party", "aria-live": "polite" }, partyText(guests));
  const less = h("button", { type: "button", class: "round", id: "guest-less", "aria-label": "One guest less" }, "−");
  const more = h("button", { type: "button", class: "round", id: "guest-more", "aria-label": "One guest more" }, "+");
  const refresh = async () => {
    const { claims, token } = await drawToken(device, guests);
    fit(canvas, encodeQr(token));
    canvas.dataset.issuedAt = String(claims.iat);
    canvas.dataset.guests = String(claims.guests);
    next = claims.iat + REFRESH_S;
    tick();
  };
  const tick = () => {
    const left = Math.max(0, next - Math.floor(Date.now() / 1000));
    countdown.textContent = `New code in ${left} s`;
    if (left === 0) refresh();
  };
  const setGuests = (n) => {
    guests = Math.max(0, Math.min(MAX_GUESTS, n));
    sessionStorage.setItem(GUESTS_KEY, String(guests));
    party.textContent = partyText(guests);
    less.disabled = guests === 0;
    more.disabled = guests === MAX_GUESTS;
    refresh();
  };
  less.addEventListener("click", () => setGuests(guests - 1));
  more.addEventListener("click", () => setGuests(guests + 1));
  less.disabled = guests === 0;
  show(h("section", { class: "entry" },
    h("h1", {}, "Hold this up to the gate"),
    h("div", { class: "qr-frame" }, canvas),
    countdown,
    h("div", { class: "guests" }, less, party, more),
    h("p", { class: "hint" }, navigator.onLine ? "" : "You are offline: your code still works.")));
  await refresh();
  const timer = setInterval(tick, 1000);
  return () => clearInterval(timer);
}
