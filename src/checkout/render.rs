//! A plain-text, fixed-width rendering of a receipt, for the text part of the
//! receipt e-mail and for logs. Every column is padded by characters, so
//! names with umlauts line up too.

use super::cart::{PricedCart, PricedLine};
use super::receipt::{Receipt, ReceiptKind};
use super::tax::TaxMode;
use rust_decimal::Decimal;
use std::fmt::Write;

/// Characters per line (an 80 mm receipt printer's width in its standard font).
const WIDTH: usize = 48;

/// Renders a sale or refund receipt as fixed-width text, `WIDTH` characters
/// per line at most, ending in a newline.
pub fn render_text(receipt: &Receipt) -> String {
    let cart = &receipt.cart;
    let mut out = String::new();
    let tax_id = if cart.tax_mode == TaxMode::Inclusive { "VAT no." } else { "Tax ID" };
    for text in [&receipt.seller.name, &receipt.seller.address, &format!("{tax_id} {}", receipt.seller.vat_number)] {
        out.push_str(&centered(text));
    }
    out.push_str(&rule('='));
    match receipt.kind {
        ReceiptKind::Sale => out.push_str(&text(&format!("Receipt no. {}", receipt.number))),
        ReceiptKind::Refund { original_number } => {
            out.push_str(&text(&format!("REFUND no. {}", receipt.number)));
            out.push_str(&text(&format!("for receipt no. {original_number}")));
        }
    }
    out.push_str(&text(&receipt.issued_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()));
    out.push_str(&text(&format!("Store time zone: {}", receipt.timezone)));
    out.push_str(&rule('-'));
    for line in &cart.lines {
        render_line(&mut out, cart, line);
    }
    out.push_str(&rule('-'));
    render_totals(&mut out, cart);
    out.push_str(&rule('-'));
    render_rates(&mut out, cart);
    out.push_str(&rule('-'));
    let paid = if cart.total_gross_minor < 0 { "Refunded to" } else { "Paid by" };
    let method = match &receipt.payment {
        Some(p) => format!("{paid} {} **** {}", p.brand, p.last4),
        None => format!("{paid} loyalty points"),
    };
    out.push_str(&row(&method, &amount(cart, cart.total_gross_minor), ""));
    out.push_str(&row("Points redeemed", &cart.points_redeemed.to_string(), ""));
    out.push_str(&row("Points earned", &cart.points_earned.to_string(), ""));
    out
}

fn render_line(out: &mut String, cart: &PricedCart, line: &PricedLine) {
    out.push_str(&row(&line.name, &amount(cart, line.amount_minor), &line.tax_code));
    let unit = amount(cart, line.unit_price_minor);
    out.push_str(&text(&format!("  {} x {unit}", line.quantity)));
    for d in &line.discounts {
        out.push_str(&row(&format!("  {}", d.name), &amount(cart, -d.amount_minor), ""));
    }
}

fn render_totals(out: &mut String, cart: &PricedCart) {
    out.push_str(&row("Subtotal", &amount(cart, cart.subtotal_minor), ""));
    if cart.total_discount_minor != 0 {
        out.push_str(&row("Discounts", &amount(cart, -cart.total_discount_minor), ""));
    }
    if cart.tax_mode == TaxMode::Exclusive {
        out.push_str(&row("Net", &amount(cart, cart.total_net_minor), ""));
        out.push_str(&row("Sales tax", &amount(cart, cart.total_tax_minor), ""));
    }
    out.push_str(&row(&format!("TOTAL {}", cart.currency), &amount(cart, cart.total_gross_minor), ""));
}

fn render_rates(out: &mut String, cart: &PricedCart) {
    let tax = if cart.tax_mode == TaxMode::Inclusive { "VAT" } else { "Tax" };
    let _ = writeln!(out, "{:<12}{:>10}{:>12}{:>12}", format!("{tax} rate"), "Net", tax, "Gross");
    for r in &cart.rates {
        let label = format!("{} {} %", r.code, r.rate.normalize());
        let [net, tax, gross] = [r.net_minor, r.tax_minor, r.gross_minor].map(|m| amount(cart, m));
        let _ = writeln!(out, "{label:<12}{net:>10}{tax:>12}{gross:>12}");
    }
    let [net, tax, gross] =
        [cart.total_net_minor, cart.total_tax_minor, cart.total_gross_minor].map(|m| amount(cart, m));
    let _ = writeln!(out, "{:<12}{net:>10}{tax:>12}{gross:>12}", "Total");
}

/// Minor units shown with the currency's decimals (`-2.49`, `980`).
fn amount(cart: &PricedCart, minor: i64) -> String {
    Decimal::new(minor, cart.currency.exponent()).to_string()
}

/// `left`, then `amount` and a one-letter `code` column flush right; `left`
/// is cut short when they do not fit. No trailing spaces.
fn row(left: &str, amount: &str, code: &str) -> String {
    let right = format!("{amount} {code:<1}");
    let room = WIDTH.saturating_sub(right.chars().count() + 1);
    let left: String = left.chars().take(room).collect();
    let gap = WIDTH - left.chars().count() - right.chars().count();
    let mut line = format!("{left}{}{right}", " ".repeat(gap)).trim_end().to_owned();
    line.push('\n');
    line
}

/// A line of text alone.
fn text(left: &str) -> String {
    row(left, "", "")
}

fn centered(text: &str) -> String {
    let text: String = text.chars().take(WIDTH).collect();
    let pad = (WIDTH - text.chars().count()) / 2;
    format!("{}{text}\n", " ".repeat(pad))
}

fn rule(c: char) -> String {
    let mut s = c.to_string().repeat(WIDTH);
    s.push('\n');
    s
}
