//! Property tests over random carts (1-20 lines, prices 0.01-500.00,
//! quantities 1-10, both tax modes, random promotions and redemptions).

use super::*;
use crate::money::Money;
use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;

const CLASSES: [&str; 3] = ["standard", "reduced", "zero"];

fn sku(i: u8) -> Sku {
    Sku::from(format!("S{i}"))
}

fn rules(inclusive: bool, promotions: Vec<Promotion>) -> PricingRules {
    let (mode, rates) =
        if inclusive { (TaxMode::Inclusive, ["19", "7", "0"]) } else { (TaxMode::Exclusive, ["8.875", "4", "0"]) };
    let entries = CLASSES.iter().zip(rates).map(|(class, pct)| TaxRateEntry {
        class: (*class).into(),
        from: NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
        percent: pct.parse().unwrap(),
    });
    PricingRules {
        currency: Currency::EUR,
        tax_mode: mode,
        tax_table: TaxTable::new(entries).unwrap(),
        promotions,
        loyalty: Some(LoyaltyConfig::default()),
    }
}

fn arb_line() -> impl Strategy<Value = CartLine> {
    (0u8..10, 1i64..=50_000, 1u32..=10, 0usize..3).prop_map(|(s, cents, quantity, class)| CartLine {
        sku: sku(s),
        name: format!("Product {s}"),
        quantity,
        unit_price: Money::from_minor(cents, Currency::EUR),
        tax_class: CLASSES[class].into(),
    })
}

fn arb_skus() -> impl Strategy<Value = Vec<Sku>> {
    prop::collection::vec(0u8..10, 1..4).prop_map(|v| v.into_iter().map(sku).collect())
}

fn arb_rule() -> impl Strategy<Value = PromotionRule> {
    let pct = (1i64..=100).prop_map(Decimal::from);
    prop_oneof![
        (arb_skus(), pct.clone()).prop_map(|(skus, percent)| PromotionRule::PercentOff { skus, percent }),
        (arb_skus(), 1i64..=1_000)
            .prop_map(|(skus, c)| PromotionRule::AmountOff { skus, amount: Money::from_minor(c, Currency::EUR) }),
        (arb_skus(), 2u32..=5, 1u32..=4).prop_map(|(skus, buy, pay)| PromotionRule::MultiBuy {
            skus,
            buy,
            pay_for: pay.min(buy - 1)
        }),
        (0u8..10, 1u32..=3, 0u8..10, 1u32..=2, pct.clone()).prop_map(|(a, buy, b, get, percent_off)| {
            PromotionRule::BuyGet { buy_sku: sku(a), buy, get_sku: sku(b), get, percent_off }
        }),
        (0i64..=20_000, 1i64..=50).prop_map(|(t, p)| PromotionRule::BasketPercentOff {
            threshold: Money::from_minor(t, Currency::EUR),
            percent: Decimal::from(p)
        }),
    ]
}

fn arb_sale() -> impl Strategy<Value = Receipt> {
    let promos = prop::collection::vec(arb_rule(), 0..5).prop_map(|rules| {
        rules
            .into_iter()
            .enumerate()
            .map(|(i, rule)| Promotion { name: format!("P{i}"), valid_from: None, valid_until: None, rule })
            .collect()
    });
    (prop::collection::vec(arb_line(), 1..=20), any::<bool>(), promos, prop_oneof![Just(0u64), 0u64..=100_000])
        .prop_map(|(lines, inclusive, promotions, points)| {
            let date = NaiveDate::from_ymd_opt(2024, 5, 3).unwrap();
            let cart = price_cart(&rules(inclusive, promotions), &lines, date, points).expect("valid cart prices");
            let seller = Seller { name: "S".into(), address: "A".into(), vat_number: "V".into() };
            let issued = Utc.with_ymd_and_hms(2024, 5, 3, 12, 0, 0).unwrap();
            Receipt::sale(1, issued, "Europe/Berlin", seller, None, cart)
        })
}

/// Every amount of a line, in a fixed order.
fn values(l: &PricedLine) -> Vec<i64> {
    let mut v =
        vec![l.quantity, l.amount_minor, l.net_minor, l.tax_minor, l.gross_minor, l.points_earned, l.points_redeemed];
    v.extend(l.discounts.iter().map(|d| d.amount_minor));
    v
}

fn totals(c: &PricedCart) -> Vec<i64> {
    vec![
        c.subtotal_minor,
        c.total_discount_minor,
        c.total_net_minor,
        c.total_tax_minor,
        c.total_gross_minor,
        c.points_earned,
        c.points_redeemed,
    ]
}

/// Lines add up to rates and totals; every line is internally consistent.
fn check_sums(c: &PricedCart) -> Result<(), TestCaseError> {
    let sum = |f: fn(&PricedLine) -> i64| c.lines.iter().map(f).sum::<i64>();
    let from_lines = vec![
        sum(|l| l.amount_minor),
        sum(PricedLine::discount_minor),
        sum(|l| l.net_minor),
        sum(|l| l.tax_minor),
        sum(|l| l.gross_minor),
        sum(|l| l.points_earned),
        sum(|l| l.points_redeemed),
    ];
    prop_assert_eq!(&from_lines, &totals(c));
    let rate_sum = |f: fn(&RateTotal) -> i64| c.rates.iter().map(f).sum::<i64>();
    prop_assert_eq!(rate_sum(|r| r.net_minor), c.total_net_minor);
    prop_assert_eq!(rate_sum(|r| r.tax_minor), c.total_tax_minor);
    prop_assert_eq!(rate_sum(|r| r.gross_minor), c.total_gross_minor);
    for r in &c.rates {
        prop_assert_eq!(r.net_minor + r.tax_minor, r.gross_minor);
    }
    for l in &c.lines {
        prop_assert_eq!(l.net_minor + l.tax_minor, l.gross_minor);
        let base = if c.tax_mode == TaxMode::Inclusive { l.gross_minor } else { l.net_minor };
        prop_assert_eq!(l.amount_minor - l.discount_minor(), base);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn priced_carts_add_up_and_never_go_negative(sale in arb_sale()) {
        let c = &sale.cart;
        check_sums(c)?;
        for l in &c.lines {
            prop_assert!(values(l).iter().all(|v| *v >= 0), "negative value on {:?}", l);
            prop_assert!(l.discounts.iter().all(|d| d.amount_minor > 0));
        }
        prop_assert!(c.total_tax_minor >= 0);
        prop_assert!(c.total_discount_minor <= c.subtotal_minor);
        for r in &c.rates {
            let (base, divisor) = match c.tax_mode {
                TaxMode::Inclusive => (r.gross_minor, Decimal::ONE_HUNDRED + r.rate),
                TaxMode::Exclusive => (r.net_minor, Decimal::ONE_HUNDRED),
            };
            prop_assert_eq!(r.tax_minor, round_minor(Decimal::from(base) * r.rate / divisor).unwrap());
        }
        prop_assert!(!render_text(&sale).is_empty());
    }

    #[test]
    fn a_full_refund_mirrors_the_sale(sale in arb_sale()) {
        let items = sale.cart.lines.iter().map(|l| RefundItem { line_no: l.line_no, quantity: l.quantity as u32 }).collect();
        let request = RefundRequest { number: 2, issued_at: sale.issued_at, items };
        let r = refund(&sale, &request).unwrap();
        check_sums(&r.cart)?;
        for (s, back) in sale.cart.lines.iter().zip(&r.cart.lines) {
            let zero: Vec<i64> = values(s).iter().zip(values(back)).map(|(a, b)| a + b).collect();
            prop_assert!(zero.iter().all(|v| *v == 0), "{:?} vs {:?}", s, back);
        }
        prop_assert!(totals(&sale.cart).iter().zip(totals(&r.cart)).all(|(a, b)| a + b == 0));
        for (a, b) in sale.cart.rates.iter().zip(&r.cart.rates) {
            prop_assert_eq!((a.net_minor, a.tax_minor, a.gross_minor), (-b.net_minor, -b.tax_minor, -b.gross_minor));
        }
    }

    #[test]
    fn partial_refunds_never_exceed_the_sale_and_close_exactly(
        sale in arb_sale(),
        chunks in prop::collection::vec(1u32..=4, 1..=6),
    ) {
        // Line i is refunded in pieces of chunks[(i + j) % len] units, piece j on refund j.
        let mut left: Vec<u32> = sale.cart.lines.iter().map(|l| l.quantity as u32).collect();
        let mut previous: Vec<Receipt> = Vec::new();
        let mut step = 0;
        while left.iter().any(|q| *q > 0) {
            let items: Vec<RefundItem> = sale.cart.lines.iter().zip(left.iter_mut()).enumerate()
                .filter(|(_, (_, q))| **q > 0)
                .map(|(i, (l, q))| {
                    let n = chunks[(i + step) % chunks.len()].min(*q);
                    *q -= n;
                    RefundItem { line_no: l.line_no, quantity: n }
                })
                .collect();
            let request = RefundRequest { number: 10 + step as i64, issued_at: sale.issued_at, items };
            let r = refund_after(&sale, &previous, &request).unwrap();
            check_sums(&r.cart)?;
            previous.push(r);
            step += 1;
            // Cumulative refunds per line never exceed what the sale line holds.
            for s in &sale.cart.lines {
                let mut refunded = vec![0_i64; 7];
                for l in previous.iter().flat_map(|p| &p.cart.lines).filter(|l| l.line_no == s.line_no) {
                    prop_assert!(values(l).iter().all(|v| *v <= 0), "positive refund value {:?}", l);
                    refunded.iter_mut().zip(values(l)).for_each(|(acc, v)| *acc -= v);
                }
                prop_assert!(refunded.iter().zip(values(s)).all(|(r, s)| *r <= s), "{:?} over {:?}", refunded, s);
            }
        }
        let mut sum = totals(&sale.cart);
        for p in &previous {
            sum.iter_mut().zip(totals(&p.cart)).for_each(|(acc, v)| *acc += v);
        }
        prop_assert!(sum.iter().all(|v| *v == 0), "not closed: {:?}", sum);
        let more = RefundRequest { number: 99, issued_at: sale.issued_at, items: vec![RefundItem { line_no: 1, quantity: 1 }] };
        prop_assert!(refund_after(&sale, &previous, &more).is_err());
    }
}
