// Receipts: the list, one receipt with the same legally complete content as
// the receipt e-mail (seller, VAT number, number, date and time, lines with
// quantity, unit price, discounts and tax code, totals, per-rate tax,
// payment), and disputing a line ("I did not take this") with its outcome.

import { api } from "./api.js";
import { h, localTime, money, show, submitting, toast } from "./ui.js";

function offlineNote(data) {
  return data && data.fromCache ? h("p", { class: "offline" }, "Offline: showing the receipts saved on this phone.") : null;
}

export async function receiptsView() {
  let receipts;
  try {
    receipts = await api("GET", "/api/v1/receipts");
  } catch (e) {
    show(h("h1", {}, "Receipts"), h("p", { class: "error" }, e.message));
    return;
  }
  show(h("section", { class: "receipts" },
    h("h1", {}, "Receipts"),
    offlineNote(receipts),
    receipts.length === 0 ? h("p", { id: "no-receipts" }, "No receipts yet. They appear here the moment a visit is charged.") : null,
    h("ul", { class: "receipt-list" }, receipts.map((r) => h("li", {},
      h("a", { href: `/app/receipts/${encodeURIComponent(r.id)}`, class: "receipt-link" },
        h("span", { class: "store" }, r.document?.seller?.name ?? "Receipt"),
        h("span", { class: "when" }, localTime(r.issued_at, r.document?.timezone)),
        h("strong", { class: "total" }, money(r.total_minor, r.currency))))))));
}

function linesTable(cart) {
  const amount = (minor) => money(minor, cart.currency);
  const rows = [];
  for (const line of cart.lines) {
    rows.push(h("tr", { class: "line", dataset: { line: line.line_no } },
      h("td", {}, line.name, h("br"), h("small", {}, `${line.quantity} × ${amount(line.unit_price_minor)}`)),
      h("td", { class: "num" }, amount(line.amount_minor)),
      h("td", { class: "code" }, line.tax_code)));
    for (const d of line.discounts) {
      rows.push(h("tr", { class: "discount" }, h("td", {}, d.name), h("td", { class: "num" }, amount(-d.amount_minor)), h("td")));
    }
  }
  return h("table", { class: "lines" },
    h("thead", {}, h("tr", {}, h("th", {}, "Item"), h("th", { class: "num" }, "Amount"), h("th", {}, ""))),
    h("tbody", {}, rows));
}

function totals(cart, tax) {
  const amount = (minor) => money(minor, cart.currency);
  const row = (label, value, id) => h("tr", { id }, h("th", {}, label), h("td", { class: "num" }, value));
  return h("table", { class: "totals" },
    row("Subtotal", amount(cart.subtotal_minor)),
    cart.total_discount_minor ? row("Discounts", amount(-cart.total_discount_minor)) : null,
    cart.tax_mode === "exclusive" ? row("Net", amount(cart.total_net_minor)) : null,
    cart.tax_mode === "exclusive" ? row("Sales tax", amount(cart.total_tax_minor)) : null,
    row("Total", amount(cart.total_gross_minor), "receipt-total"),
    h("tr", {}, h("td", { colspan: 2 }, h("table", { class: "rates" },
      h("tr", {}, h("th", {}, `${tax} rate`), h("th", { class: "num" }, "Net"), h("th", { class: "num" }, tax), h("th", { class: "num" }, "Gross")),
      cart.rates.map((r) => h("tr", {}, h("td", {}, `${r.code} ${Number(r.rate)} %`), h("td", { class: "num" }, amount(r.net_minor)),
        h("td", { class: "num" }, amount(r.tax_minor)), h("td", { class: "num" }, amount(r.gross_minor))))))));
}

function describeOutcome(d, doc) {
  const line = doc.cart.lines.find((l) => l.line_no === d.line_no);
  const what = `${line ? line.name : `Line ${d.line_no}`} × ${d.quantity}`;
  const o = d.outcome;
  if (o.outcome === "refunded") return `${what}: refunded ${money(o.amount_minor, o.currency)} to your card.`;
  if (o.status === "decided") return `${what}: reviewed by the store: ${o.decision ?? "decided"}${o.comment ? ` (${o.comment})` : ""}.`;
  return `${what}: the store is reviewing it (reference ${o.case_id.slice(-8)}). You will get any refund by e-mail.`;
}

/// The dispute form for one line, shown under it.
function disputeForm(receiptId, line, most, done) {
  const quantity = h("select", { name: "quantity" },
    Array.from({ length: most }, (_, i) => h("option", { value: i + 1 }, String(i + 1))));
  const form = h("form", { class: "dispute-form", id: `dispute-${line.line_no}` },
    h("label", {}, "How many did you not take?", quantity),
    h("label", {}, "Anything we should know? (optional)", h("textarea", { name: "note", rows: 2, maxlength: 500 })),
    h("p", { class: "error", role: "alert" }),
    h("button", { type: "submit" }, "Send"));
  const requestId = crypto.randomUUID();
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submitting(form, async () => {
      const body = { request_id: requestId, line_no: line.line_no, quantity: Number(quantity.value), note: form.note.value.trim() };
      const outcome = await api("POST", `/api/v1/receipts/${encodeURIComponent(receiptId)}/disputes`, body);
      form.remove();
      await done(outcome);
    });
  });
  return form;
}

/// Units of each line already disputed, by line number.
function disputedUnits(list) {
  const units = new Map();
  for (const d of list) units.set(d.line_no, (units.get(d.line_no) ?? 0) + d.quantity);
  return units;
}

/// "I did not take this" under each line with units left to dispute.
function disputeButtons(receipt, doc, table, disputed, refreshDisputes) {
  if (doc.kind?.type !== "sale") return;
  for (const line of doc.cart.lines) {
    const row = table.querySelector(`tr.line[data-line="${line.line_no}"]`);
    const button = h("button", { type: "button", class: "link dispute", dataset: { line: line.line_no } }, "I did not take this");
    button.addEventListener("click", () => {
      const left = line.quantity - (disputed().get(line.line_no) ?? 0);
      if (left <= 0 || row.nextElementSibling?.classList.contains("dispute-row")) return;
      const cell = h("td", { colspan: 3 });
      const holder = h("tr", { class: "dispute-row" }, cell);
      cell.append(disputeForm(receipt.id, line, left, async (outcome) => {
        holder.remove();
        toast(outcome.outcome === "refunded" ? `Refunded ${money(outcome.amount_minor, outcome.currency)}` : "Sent to the store for review");
        await refreshDisputes();
      }));
      row.after(holder);
    });
    row.cells[0].append(h("br"), button);
  }
}

export async function receiptView({ id }) {
  let receipt;
  try {
    receipt = await api("GET", `/api/v1/receipts/${encodeURIComponent(id)}`);
  } catch (e) {
    show(h("h1", {}, "Receipt"), h("p", { class: "error" }, e.message));
    return;
  }
  const doc = receipt.document;
  const cart = doc.cart;
  const inclusive = cart.tax_mode === "inclusive";
  const title = doc.kind?.type === "refund" ? `Refund no. ${doc.number}` : `Receipt no. ${doc.number}`;
  const table = linesTable(cart);
  const disputes = h("section", { class: "disputes", id: "disputes" });
  let units = new Map();
  const refreshDisputes = async () => {
    const list = await api("GET", `/api/v1/receipts/${encodeURIComponent(id)}/disputes`).catch(() => []);
    units = disputedUnits(list);
    for (const b of table.querySelectorAll("button.dispute")) {
      const line = cart.lines.find((l) => String(l.line_no) === b.dataset.line);
      b.hidden = (units.get(line.line_no) ?? 0) >= line.quantity;
    }
    disputes.replaceChildren(...(list.length ? [h("h2", {}, "Your disputes"),
      h("ul", {}, list.map((d) => h("li", { class: `outcome ${d.outcome.outcome}`, dataset: { case: d.outcome.case_id } },
        describeOutcome(d, doc))))] : []));
  };
  disputeButtons(receipt, doc, table, () => units, refreshDisputes);
  const paid = cart.total_gross_minor < 0 ? "Refunded to" : "Paid by";
  show(h("article", { class: "receipt" },
    offlineNote(receipt),
    h("header", {}, h("h1", {}, doc.seller.name), h("p", {}, doc.seller.address, h("br"),
      `${inclusive ? "VAT no." : "Tax ID"} ${doc.seller.vat_number}`)),
    h("h2", {}, title),
    doc.kind?.type === "refund" ? h("p", {}, `for receipt no. ${doc.kind.original_number}`) : null,
    h("p", { class: "when" }, localTime(doc.issued_at, doc.timezone), h("br"),
      h("small", {}, `${doc.issued_at.replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC")} · store time zone ${doc.timezone}`)),
    table,
    totals(cart, inclusive ? "VAT" : "Tax"),
    h("p", { class: "payment" }, doc.payment ? `${paid} ${doc.payment.brand.toUpperCase()} •••• ${doc.payment.last4}` : `${paid} loyalty points`),
    h("p", { class: "points" }, `Points redeemed ${cart.points_redeemed} · points earned ${cart.points_earned}`),
    disputes));
  await refreshDisputes();
}
