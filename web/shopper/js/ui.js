// Small DOM and formatting helpers. Text always goes in as text nodes, so
// nothing from the server is ever parsed as HTML.

/// `h("p", {class: "x", onclick: f}, "text", child)`: an element.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") {
      for (const [k, v] of Object.entries(value)) if (v !== undefined && v !== null) el.dataset[k] = String(v);
    }
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/// Replaces the page's main view.
export function show(...children) {
  const main = document.getElementById("view");
  main.replaceChildren(...children);
  main.focus({ preventScroll: true });
}

/// Digits after the decimal point of a currency (ISO 4217, as the browser knows it).
export function exponent(currency) {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  } catch {
    return 2;
  }
}

/// Minor units as a decimal string, without floating point: `-89` EUR is `-0.89`.
export function decimal(minor, currency) {
  const exp = exponent(currency);
  const sign = minor < 0 ? "-" : "";
  const digits = String(Math.abs(minor)).padStart(exp + 1, "0");
  return exp === 0 ? `${sign}${digits}` : `${sign}${digits.slice(0, -exp)}.${digits.slice(-exp)}`;
}

/// An amount with its currency code, as receipts and pushes show it: `2.58 EUR`.
export function money(minor, currency) {
  return `${decimal(minor, currency)} ${currency}`;
}

/// A time in the store's time zone (falls back to UTC).
export function localTime(isoOrMillis, timeZone) {
  const date = new Date(isoOrMillis);
  const options = { dateStyle: "medium", timeStyle: "short" };
  try {
    return new Intl.DateTimeFormat(undefined, { ...options, timeZone }).format(date);
  } catch {
    return new Intl.DateTimeFormat(undefined, { ...options, timeZone: "UTC" }).format(date) + " UTC";
  }
}

/// A short message at the bottom of the screen.
export function toast(message) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(box.hideTimer);
  box.hideTimer = setTimeout(() => (box.hidden = true), 6000);
}

/// A form's inputs as an object of trimmed strings.
export function formValues(form) {
  const out = {};
  for (const [k, v] of new FormData(form).entries()) out[k] = String(v).trim();
  return out;
}

/// Runs an async form action, showing its error under the form and
/// disabling the submit button meanwhile.
export async function submitting(form, action) {
  const button = form.querySelector("button[type=submit]");
  const error = form.querySelector(".error");
  if (button) button.disabled = true;
  if (error) error.textContent = "";
  try {
    await action();
  } catch (e) {
    if (error) error.textContent = e.message || String(e);
    else toast(e.message || String(e));
  } finally {
    if (button) button.disabled = false;
  }
}
