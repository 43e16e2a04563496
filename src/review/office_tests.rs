//! Tests of the back office's reports on real receipt documents (priced by
//! the checkout with the demo store's catalogue and rules).

use super::*;
use crate::catalog::Catalog;
use crate::checkout::{CartLine, RefundItem, RefundRequest, Seller, price_cart, refund_after};
use crate::ids::{CaseId, Sku, StoreId, VisitId};

fn catalog() -> Catalog {
    Catalog::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("calibration/demo-store")).unwrap()
}

fn product(c: &Catalog, sku: &str) -> Product {
    c.products[&Sku::from(sku)].clone()
}

/// A sale receipt as the exit stores it.
fn receipt(c: &Catalog, no: i64, at: Millis, items: &[(&str, u32)]) -> (Receipt, ReceiptDoc) {
    let lines: Vec<CartLine> = items.iter().map(|(s, q)| CartLine::from_product(&product(c, s), *q).unwrap()).collect();
    let issued = chrono::DateTime::from_timestamp_millis(at).unwrap();
    let priced = price_cart(c.pricing.as_ref().unwrap(), &lines, issued.date_naive(), 0).unwrap();
    let seller = Seller { name: "S".into(), address: "A".into(), vat_number: "V".into() };
    let doc = ReceiptDoc::sale(no, issued, "UTC", seller, None, priced);
    let row = Receipt {
        id: format!("r-{no}"),
        store_id: StoreId::from("demo-store"),
        receipt_no: no,
        visit_id: VisitId::from(format!("v-{no}").as_str()),
        shopper_id: "s".into(),
        issued_at: at,
        currency: "EUR".into(),
        total_minor: doc.cart.total_gross_minor,
        tax_minor: doc.cart.total_tax_minor,
        body_json: serde_json::to_string(&doc).unwrap(),
    };
    (row, doc)
}

const DAY: Millis = 1_796_083_200_000; // 2026-12-01 00:00 UTC
const HOUR: Millis = 3_600_000;

#[test]
fn sales_are_summed_by_hour_and_by_product_with_refunds_taken_off() {
    let c = catalog();
    let (r1, _) = receipt(&c, 1, DAY + 9 * HOUR + 5, &[("DM-0002", 2)]);
    let (r2, sale) = receipt(&c, 2, DAY + 9 * HOUR + 50 * 60_000, &[("DM-0001", 1), ("DM-0002", 1)]);
    let broken = Receipt { body_json: "{".into(), ..r1.clone() };
    let (mut lines, unreadable) = sale_lines(&[r1, r2, broken]);
    assert_eq!(unreadable, 1);
    let water = sale.cart.lines.iter().find(|l| l.sku.as_str() == "DM-0002").unwrap().line_no;
    let request = RefundRequest {
        number: 3,
        issued_at: chrono::DateTime::from_timestamp_millis(DAY + 11 * HOUR).unwrap(),
        items: vec![RefundItem { line_no: water, quantity: 1 }],
    };
    let credit = refund_after(&sale, &[], &request).unwrap();
    let audit = AuditEntry {
        seq: 1,
        at: DAY + 11 * HOUR,
        actor: "s".into(),
        action: "refund".into(),
        subject: "receipt:r-2".into(),
        detail_json: serde_json::json!({"request_id": "d", "credit_note": credit}).to_string(),
    };
    lines.extend(refund_lines(&[audit]));
    let hours = by_hour(&lines, DAY, DAY + 24 * HOUR);
    assert_eq!(hours.len(), 24);
    assert_eq!(hours[9], HourRow { hour: "2026-12-01 09:00".into(), units: 4, revenue_minor: 3 * 45 + 299 });
    assert_eq!((hours[11].units, hours[11].revenue_minor), (-1, -45), "the refund, in its own hour");
    assert_eq!(hours.iter().map(|h| h.revenue_minor).sum::<i64>(), 299 + 2 * 45);
    let products = by_product(&lines);
    assert_eq!(products[0].sku, "DM-0001");
    assert_eq!((products[1].sku.as_str(), products[1].units, products[1].revenue_minor), ("DM-0002", 2, 90));
    let csv = to_csv(&hours[9..10]).unwrap();
    assert_eq!(csv, "hour,units,revenue_minor\n2026-12-01 09:00,4,434\n");
}

#[test]
fn a_charge_at_another_price_than_the_catalogue_is_listed() {
    let c = catalog();
    let (r, _) = receipt(&c, 7, DAY + HOUR, &[("DM-0002", 3), ("DM-0001", 1)]);
    let (lines, _) = sale_lines(&[r]);
    let mut now = vec![product(&c, "DM-0001"), product(&c, "DM-0002")];
    assert!(price_discrepancies(&lines, &now).is_empty(), "charged at the catalogue's price");
    now[1].price_minor = 49; // the water went up from 0.45 after the sale
    let found = price_discrepancies(&lines, &now);
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].sku.as_str(), found[0].charged_unit_minor, found[0].catalogue_unit_minor, found[0].difference_minor),
        ("DM-0002", 45, 49, -12)
    );
    assert_eq!(found[0].issued_at, "2026-12-01 01:00 UTC");
    assert_eq!(decimal(-12, Currency::EUR), "-0.12");
}

#[test]
fn stock_shows_out_of_stock_and_misplaced_items() {
    let c = catalog();
    let products = vec![product(&c, "DM-0001"), product(&c, "DM-0002"), product(&c, "DM-0003")];
    let facing =
        |plate: &str, sku: &str| Facing { store_id: "demo-store".into(), plate_id: plate.into(), sku: sku.into() };
    let facings = vec![facing("1.1.1", "DM-0001"), facing("1.1.2", "DM-0001"), facing("1.2.1", "DM-0002")];
    let level = |plate: &str, sku: &str, quantity: i64| StockLevel {
        store_id: "demo-store".into(),
        plate_id: plate.into(),
        sku: sku.into(),
        quantity,
        updated_at: 1,
    };
    let levels = vec![
        level("1.1.1", "DM-0001", 4),
        level("1.1.2", "DM-0001", 2),
        level("1.2.1", "DM-0002", 0),
        level("1.1.1", "DM-0002", 1),
    ];
    let (stock, misplaced) = stock_report(&products, &facings, &levels);
    let status: Vec<_> = stock.iter().map(|s| (s.sku.as_str(), s.on_shelf, s.status)).collect();
    assert_eq!(
        status,
        [("DM-0001", Some(6), "ok"), ("DM-0002", Some(0), "out_of_stock"), ("DM-0003", None, "not_counted")]
    );
    assert_eq!(stock[0].home_plates, "1.1.1 1.1.2");
    assert_eq!(misplaced.len(), 1);
    assert_eq!(
        (misplaced[0].plate.as_str(), misplaced[0].sku.as_str(), misplaced[0].quantity),
        ("1.1.1", "DM-0002", 1)
    );
    assert_eq!(misplaced[0].home_plates, "1.2.1");
}

#[test]
fn review_statistics_count_rates_times_and_reasons() {
    let case = |id: &str, reason: &str, created: Millis, decided: Option<(Millis, &str)>| {
        let mut c = ReviewCase::open(CaseId::from(id), VisitId::from("v"), StoreId::from("s"), reason.into(), created);
        if let Some((at, d)) = decided {
            (c.status, c.decided_at, c.decision) = ("decided".into(), Some(at), Some(d.into()));
        }
        c
    };
    let cases = vec![
        case("case-1", "low_confidence: an event at 0.50", 0, Some((4 * 60_000, "corrected"))),
        case("case-2", "age_restricted: DM-0040", 0, Some((10 * 60_000, "approve"))),
        case("case-3", "unmatched_put_back", 0, None),
        case("dispute-1", "dispute: line 1 x1: no", 0, Some((60_000, "refund"))),
    ];
    let decision = |reasons: &[(u64, &str)]| {
        AuditEntry {
        seq: 0,
        at: 0,
        actor: "rita".into(),
        action: "review_decided".into(),
        subject: "case:case-1".into(),
        detail_json: serde_json::json!({"corrections": reasons.iter().map(|(line, r)| serde_json::json!({"line": line, "reason": r})).collect::<Vec<_>>()}).to_string(),
    }
    };
    // A product change is two ledger entries of one line: one correction.
    let product_change = [(0, "wrong_product"), (0, "wrong_product"), (1, "wrong_quantity")];
    let stats = review_stats(30, &cases, &[decision(&product_change), decision(&[(0, "wrong_quantity")])]);
    assert_eq!((stats.exit_reviews, stats.disputes, stats.decided, stats.still_open), (3, 1, 3, 1));
    assert!((stats.review_rate - 0.1).abs() < 1e-12);
    assert_eq!(stats.median_minutes_to_decide, Some(4.0));
    assert_eq!(stats.p90_minutes_to_decide, Some(10.0));
    let two = review_stats(2, &cases[..2], &[]);
    assert_eq!(two.median_minutes_to_decide, Some(7.0), "the mean of the middle two");
    assert_eq!(
        stats.corrections_by_reason,
        BTreeMap::from([("wrong_product".into(), 1), ("wrong_quantity".into(), 2)])
    );
    assert_eq!(stats.decisions["corrected"], 1);
    assert_eq!(review_stats(0, &[], &[]).review_rate, 0.0);
}
