//! The HTML part of the receipt e-mail: the same legally required content as
//! `checkout::render_text` (seller, VAT number, number, date and time, lines
//! with quantity, unit price, rate code and discounts, per-rate net/tax/gross,
//! totals, payment), as one self-contained page with inline styles only
//! (mail clients drop `<style>` and external sheets). Every text from the
//! receipt is HTML-escaped.

use crate::checkout::{PricedCart, PricedLine, Receipt, ReceiptKind, TaxMode};
use rust_decimal::Decimal;
use std::fmt::Write;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const TABLE: &str = r#"style="border-collapse:collapse;width:100%;max-width:560px;font-size:14px""#;
const CELL: &str = r#"style="padding:2px 6px""#;
const NUM: &str = r#"style="padding:2px 6px;text-align:right;white-space:nowrap""#;

/// Minor units shown with the currency's decimals (`-2.49`, `980`).
fn amount(cart: &PricedCart, minor: i64) -> String {
    Decimal::new(minor, cart.currency.exponent()).to_string()
}

/// Renders a sale or refund receipt as a complete HTML document.
pub fn render_html(receipt: &Receipt) -> String {
    let cart = &receipt.cart;
    let tax = if cart.tax_mode == TaxMode::Inclusive { "VAT" } else { "Tax" };
    let tax_id = if cart.tax_mode == TaxMode::Inclusive { "VAT no." } else { "Tax ID" };
    let title = match receipt.kind {
        ReceiptKind::Sale => format!("Receipt no. {}", receipt.number),
        ReceiptKind::Refund { .. } => format!("Refund no. {}", receipt.number),
    };
    let mut out = String::with_capacity(4096);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title></head>\n\
         <body style=\"font-family:Helvetica,Arial,sans-serif;color:#222;margin:16px\">\n\
         <h1 style=\"font-size:20px;margin:0\">{name}</h1>\n<p style=\"margin:4px 0\">{address}<br>{tax_id} {vat}</p>\n",
        title = escape(&title),
        name = escape(&receipt.seller.name),
        address = escape(&receipt.seller.address),
        vat = escape(&receipt.seller.vat_number),
    );
    let _ =
        write!(out, "<h2 style=\"font-size:16px;margin:12px 0 4px\">{}</h2>\n<p style=\"margin:0\">", escape(&title));
    if let ReceiptKind::Refund { original_number } = receipt.kind {
        let _ = write!(out, "for receipt no. {original_number}<br>");
    }
    let _ = writeln!(
        out,
        "{} (store time zone: {})</p>",
        receipt.issued_at.format("%Y-%m-%d %H:%M:%S UTC"),
        escape(&receipt.timezone)
    );
    render_lines(&mut out, cart, tax);
    render_totals(&mut out, cart);
    render_rates(&mut out, cart, tax);
    render_payment(&mut out, receipt);
    out.push_str("</body></html>\n");
    out
}

fn render_lines(out: &mut String, cart: &PricedCart, tax: &str) {
    let _ = writeln!(
        out,
        "<table {TABLE}>\n<thead><tr style=\"border-bottom:1px solid #999\"><th {CELL} align=\"left\">Item</th>\
         <th {NUM}>Qty</th><th {NUM}>Unit price</th><th {NUM}>Amount</th><th {CELL}>{tax}</th></tr></thead><tbody>"
    );
    for line in &cart.lines {
        render_line(out, cart, line);
    }
    out.push_str("</tbody></table>\n");
}

fn render_line(out: &mut String, cart: &PricedCart, line: &PricedLine) {
    let _ = writeln!(
        out,
        "<tr><td {CELL}>{name}</td><td {NUM}>{qty}</td><td {NUM}>{unit}</td><td {NUM}>{amount}</td>\
         <td {CELL} align=\"center\">{code}</td></tr>",
        name = escape(&line.name),
        qty = line.quantity,
        unit = amount(cart, line.unit_price_minor),
        amount = amount(cart, line.amount_minor),
        code = escape(&line.tax_code),
    );
    for d in &line.discounts {
        let _ = writeln!(
            out,
            "<tr style=\"color:#a00\"><td {CELL} colspan=\"3\">&nbsp;&nbsp;{}</td><td {NUM}>{}</td><td></td></tr>",
            escape(&d.name),
            amount(cart, -d.amount_minor)
        );
    }
}

fn render_totals(out: &mut String, cart: &PricedCart) {
    let mut rows = vec![("Subtotal".to_owned(), cart.subtotal_minor)];
    if cart.total_discount_minor != 0 {
        rows.push(("Discounts".to_owned(), -cart.total_discount_minor));
    }
    if cart.tax_mode == TaxMode::Exclusive {
        rows.push(("Net".to_owned(), cart.total_net_minor));
        rows.push(("Sales tax".to_owned(), cart.total_tax_minor));
    }
    let _ = writeln!(out, "<table {TABLE}>");
    for (label, minor) in rows {
        let _ = writeln!(out, "<tr><td {CELL}>{label}</td><td {NUM}>{}</td></tr>", amount(cart, minor));
    }
    let _ = writeln!(
        out,
        "<tr style=\"font-weight:bold;font-size:16px;border-top:1px solid #999\"><td {CELL}>TOTAL {}</td>\
         <td {NUM}>{}</td></tr>\n</table>",
        cart.currency,
        amount(cart, cart.total_gross_minor)
    );
}

fn render_rates(out: &mut String, cart: &PricedCart, tax: &str) {
    let _ = writeln!(
        out,
        "<table {TABLE}>\n<thead><tr style=\"border-bottom:1px solid #999\"><th {CELL} align=\"left\">{tax} rate</th>\
         <th {NUM}>Net</th><th {NUM}>{tax}</th><th {NUM}>Gross</th></tr></thead><tbody>"
    );
    for r in &cart.rates {
        let _ = writeln!(
            out,
            "<tr><td {CELL}>{} {} %</td><td {NUM}>{}</td><td {NUM}>{}</td><td {NUM}>{}</td></tr>",
            escape(&r.code),
            r.rate.normalize(),
            amount(cart, r.net_minor),
            amount(cart, r.tax_minor),
            amount(cart, r.gross_minor)
        );
    }
    let _ = writeln!(
        out,
        "<tr style=\"border-top:1px solid #999\"><td {CELL}>Total</td><td {NUM}>{}</td><td {NUM}>{}</td>\
         <td {NUM}>{}</td></tr>\n</tbody></table>",
        amount(cart, cart.total_net_minor),
        amount(cart, cart.total_tax_minor),
        amount(cart, cart.total_gross_minor)
    );
}

fn render_payment(out: &mut String, receipt: &Receipt) {
    let cart = &receipt.cart;
    let paid = if cart.total_gross_minor < 0 { "Refunded to" } else { "Paid by" };
    let method = match &receipt.payment {
        Some(p) => format!("{paid} {} **** {}", escape(&p.brand), escape(&p.last4)),
        None => format!("{paid} loyalty points"),
    };
    let _ = writeln!(
        out,
        "<p style=\"margin:12px 0 0\">{method}: {} {}<br>Points redeemed: {}<br>Points earned: {}</p>",
        amount(cart, cart.total_gross_minor),
        cart.currency,
        cart.points_redeemed,
        cart.points_earned
    );
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::checkout::{
        CartLine, LoyaltyConfig, PaymentSummary, PricingRules, Promotion, PromotionRule, Seller, TaxTable, price_cart,
    };
    use crate::money::{Currency, Money};
    use chrono::{NaiveDate, TimeZone, Utc};

    /// The EU example of `docs/pricing.md`, sold by a seller whose name needs escaping.
    pub(crate) fn receipt(seller_name: &str) -> Receipt {
        let line = |sku: &str, name: &str, qty, price, class: &str| CartLine {
            sku: sku.into(),
            name: name.into(),
            quantity: qty,
            unit_price: Money::parse(price, Currency::EUR).unwrap(),
            tax_class: class.into(),
        };
        let rules = PricingRules {
            currency: Currency::EUR,
            tax_mode: TaxMode::Inclusive,
            tax_table: TaxTable::germany(),
            promotions: vec![Promotion {
                name: "Apples 3 for 2".into(),
                valid_from: None,
                valid_until: None,
                rule: PromotionRule::MultiBuy { skus: vec!["DM-0086".into()], buy: 3, pay_for: 2 },
            }],
            loyalty: Some(LoyaltyConfig::default()),
        };
        let lines = [
            line("DM-0086", "Apples 1.5 kg bag", 3, "2.49", "reduced"),
            line("DM-0005", "Cola <1.5 l>", 1, "1.29", "standard"),
        ];
        let cart = price_cart(&rules, &lines, NaiveDate::from_ymd_opt(2024, 5, 3).unwrap(), 0).unwrap();
        let seller = Seller {
            name: seller_name.into(),
            address: "Friedrichstraße 123, 10117 Berlin".into(),
            vat_number: "DE123456789".into(),
        };
        let visa = Some(PaymentSummary { brand: "VISA".into(), last4: "4242".into() });
        Receipt::sale(1042, Utc.with_ymd_and_hms(2024, 5, 3, 10, 21, 7).unwrap(), "Europe/Berlin", seller, visa, cart)
    }

    #[test]
    fn the_html_shows_every_required_field_escaped() {
        let html = render_html(&receipt("Müller & <Söhne>"));
        for needle in [
            "Müller &amp; &lt;Söhne&gt;",
            "Friedrichstraße 123, 10117 Berlin",
            "VAT no. DE123456789",
            "Receipt no. 1042",
            "2024-05-03 10:21:07 UTC",
            "Europe/Berlin",
            "Apples 1.5 kg bag",
            "Cola &lt;1.5 l&gt;",
            ">2.49<",
            ">7.47<",
            "Apples 3 for 2",
            ">-2.49<",
            "B 7 %",
            "A 19 %",
            ">4.65<",
            ">0.33<",
            ">5.73<",
            ">0.54<",
            "TOTAL EUR",
            ">6.27<",
            "Paid by VISA **** 4242",
            "Points earned: 6",
        ] {
            assert!(html.contains(needle), "{needle:?} missing from\n{html}");
        }
        assert!(!html.contains("<Söhne>") && !html.contains("<1.5"), "{html}");
        assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    }

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }
}
