//! The receipt document, its text rendering and refunds.

use super::tests_pricing::{d, eu_example, line, us_rules};
use super::*;
use chrono::{DateTime, TimeZone, Utc};

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 3, h, m, 7).unwrap()
}

fn seller() -> Seller {
    Seller {
        name: "Walkout Demo Market".into(),
        address: "Friedrichstraße 123, 10117 Berlin, Germany".into(),
        vat_number: "DE123456789".into(),
    }
}

fn visa() -> Option<PaymentSummary> {
    Some(PaymentSummary { brand: "VISA".into(), last4: "4242".into() })
}

fn eu_receipt() -> Receipt {
    Receipt::sale(1042, at(10, 21), "Europe/Berlin", seller(), visa(), eu_example())
}

fn request(number: i64, items: &[(u32, u32)]) -> RefundRequest {
    RefundRequest {
        number,
        issued_at: at(16, 0),
        items: items.iter().map(|(line_no, quantity)| RefundItem { line_no: *line_no, quantity: *quantity }).collect(),
    }
}

/// Every amount of a line, for comparing a sale with its refunds.
fn line_values(l: &PricedLine) -> Vec<i64> {
    let mut v =
        vec![l.quantity, l.amount_minor, l.net_minor, l.tax_minor, l.gross_minor, l.points_earned, l.points_redeemed];
    v.extend(l.discounts.iter().map(|x| x.amount_minor));
    v
}

#[test]
fn a_receipt_is_complete_and_round_trips_through_json() {
    let receipt = eu_receipt();
    assert!(receipt.missing_fields().is_empty(), "{:?}", receipt.missing_fields());
    let json = serde_json::to_string(&receipt).unwrap();
    assert!(json.contains("\"type\":\"sale\""), "{json}");
    assert_eq!(serde_json::from_str::<Receipt>(&json).unwrap(), receipt);

    let mut incomplete = eu_receipt();
    incomplete.seller.vat_number = String::new();
    incomplete.payment = Some(PaymentSummary { brand: "VISA".into(), last4: "42".into() });
    assert_eq!(incomplete.missing_fields(), vec!["seller.vat_number", "payment.last4"]);
    incomplete.payment = None;
    assert_eq!(incomplete.missing_fields(), vec!["seller.vat_number", "payment"]);
}

#[test]
fn text_rendering_shows_every_legally_required_field() {
    let text = render_text(&eu_receipt());
    assert!(text.lines().all(|l| l.chars().count() <= 48 && !l.ends_with(' ')), "{text}");
    for needle in [
        "Walkout Demo Market",
        "Friedrichstraße 123, 10117 Berlin, Germany",
        "VAT no. DE123456789",
        "Receipt no. 1042",
        "2024-05-03 10:21:07 UTC",
        "Store time zone: Europe/Berlin",
        "  3 x 2.49",
        "Paid by VISA **** 4242",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from\n{text}");
    }
    let expected_tail = "\
Apples 1.5 kg bag                         7.47 B
  3 x 2.49
  Apples 3 for 2                         -2.49
Cola 1.5 l                                1.29 A
  1 x 1.29
------------------------------------------------
Subtotal                                  8.76
Discounts                                -2.49
TOTAL EUR                                 6.27
------------------------------------------------
VAT rate           Net         VAT       Gross
A 19 %            1.08        0.21        1.29
B 7 %             4.65        0.33        4.98
Total             5.73        0.54        6.27
------------------------------------------------
Paid by VISA **** 4242                    6.27
Points redeemed                              0
Points earned                                6
";
    assert!(text.ends_with(expected_tail), "got\n{text}");
}

#[test]
fn us_rendering_shows_tax_added() {
    let cart =
        price_cart(&us_rules(vec![]), &[line("US-1", 2, "3.99", "standard", Currency::USD)], d(2024, 5, 3), 0).unwrap();
    let text = render_text(&Receipt::sale(7, at(14, 2), "America/New_York", seller(), visa(), cart));
    assert!(text.contains("Net                                       7.98\nSales tax                                 0.71\nTOTAL USD                                 8.69\n"), "{text}");
    assert!(text.contains("A 8.875 %         7.98        0.71        8.69\n"), "{text}");
    assert!(text.contains("Tax ID DE123456789"), "{text}");
}

#[test]
fn a_full_refund_mirrors_the_sale_exactly() {
    let sale = eu_receipt();
    let refund = refund(&sale, &request(1043, &[(2, 1), (1, 3)])).unwrap();
    assert_eq!(refund.kind, ReceiptKind::Refund { original_number: 1042 });
    assert_eq!((refund.number, refund.issued_at), (1043, at(16, 0)));
    for (s, r) in sale.cart.lines.iter().zip(&refund.cart.lines) {
        assert_eq!(line_values(r), line_values(s).iter().map(|v| -v).collect::<Vec<_>>());
        assert_eq!((r.line_no, &r.sku, r.unit_price_minor), (s.line_no, &s.sku, s.unit_price_minor));
    }
    let c = &refund.cart;
    assert_eq!((c.total_net_minor, c.total_tax_minor, c.total_gross_minor), (-573, -54, -627));
    assert_eq!((c.subtotal_minor, c.total_discount_minor, c.points_earned), (-876, -249, -6));
    assert_eq!(c.rates[1].tax_minor, -33);
    let text = render_text(&refund);
    assert!(
        text.contains("REFUND no. 1043\nfor receipt no. 1042\n") && text.contains("Refunded to VISA **** 4242"),
        "{text}"
    );
}

#[test]
fn partial_refunds_split_each_line_evenly_and_close_exactly() {
    let sale = eu_receipt();
    let mut previous: Vec<Receipt> = Vec::new();
    let mut parts = Vec::new();
    for n in 0..3 {
        let r = refund_after(&sale, &previous, &request(2000 + n, &[(1, 1)])).unwrap();
        parts.push(line_values(&r.cart.lines[0]));
        previous.push(r);
    }
    // Gross 4.98, VAT 0.33, 3 for 2 discount 2.49 and 5 points over 3 apples.
    assert_eq!(parts[0], vec![-1, -249, -155, -11, -166, -2, 0, -83]);
    assert_eq!(parts[1], vec![-1, -249, -155, -11, -166, -2, 0, -83]);
    assert_eq!(parts[2], vec![-1, -249, -155, -11, -166, -1, 0, -83]);
    let err = refund_after(&sale, &previous, &request(2003, &[(1, 1)])).unwrap_err();
    assert_eq!(err, PricingError::InvalidRefund("line 1: 1 to refund but 0 left to refund".into()));

    // US: 2 notebooks, net 7.98 and tax 0.71: the first unit carries the odd cent.
    let cart =
        price_cart(&us_rules(vec![]), &[line("US-1", 2, "3.99", "standard", Currency::USD)], d(2024, 5, 3), 0).unwrap();
    let us = Receipt::sale(7, at(14, 2), "America/New_York", seller(), visa(), cart);
    let first = refund(&us, &request(8, &[(1, 1)])).unwrap();
    let second = refund_after(&us, std::slice::from_ref(&first), &request(9, &[(1, 1)])).unwrap();
    assert_eq!(
        (first.cart.total_net_minor, first.cart.total_tax_minor, first.cart.total_gross_minor),
        (-399, -36, -435)
    );
    assert_eq!(
        (second.cart.total_net_minor, second.cart.total_tax_minor, second.cart.total_gross_minor),
        (-399, -35, -434)
    );
}

#[test]
fn bad_refunds_are_refused() {
    let sale = eu_receipt();
    let bad = |items: &[(u32, u32)]| refund(&sale, &request(9, items)).unwrap_err();
    assert!(matches!(bad(&[]), PricingError::InvalidRefund(_)));
    assert!(matches!(bad(&[(3, 1)]), PricingError::InvalidRefund(m) if m.contains("no line 3")));
    assert!(matches!(bad(&[(1, 4)]), PricingError::InvalidRefund(_)));
    assert!(matches!(bad(&[(1, 0)]), PricingError::InvalidRefund(_)));
    assert!(matches!(bad(&[(1, 1), (1, 1)]), PricingError::InvalidRefund(m) if m.contains("twice")));
    let r = refund(&sale, &request(9, &[(1, 1)])).unwrap();
    assert!(matches!(refund(&r, &request(10, &[(1, 1)])), Err(PricingError::InvalidRefund(_))));
    let mut other = r.clone();
    other.kind = ReceiptKind::Refund { original_number: 1 };
    assert!(matches!(refund_after(&sale, &[other], &request(10, &[(1, 1)])), Err(PricingError::InvalidRefund(_))));
}
