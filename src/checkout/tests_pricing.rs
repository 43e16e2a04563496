//! Hand-computed pricing examples in both tax modes. The EU and US examples
//! are the worked examples of `docs/pricing.md`.

use super::*;
use crate::money::Money;
use rust_decimal::Decimal;

pub(super) fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

pub(super) fn line(sku: &str, quantity: u32, price: &str, class: &str, currency: Currency) -> CartLine {
    CartLine {
        sku: sku.into(),
        name: format!("Product {sku}"),
        quantity,
        unit_price: Money::parse(price, currency).unwrap(),
        tax_class: class.into(),
    }
}

pub(super) fn promo(name: &str, rule: PromotionRule) -> Promotion {
    Promotion { name: name.into(), valid_from: None, valid_until: None, rule }
}

pub(super) fn eu_rules(promotions: Vec<Promotion>) -> PricingRules {
    PricingRules {
        currency: Currency::EUR,
        tax_mode: TaxMode::Inclusive,
        tax_table: TaxTable::germany(),
        promotions,
        loyalty: Some(LoyaltyConfig::default()),
    }
}

pub(super) fn us_rules(promotions: Vec<Promotion>) -> PricingRules {
    let table = "[[rates]]\nclass = \"standard\"\nfrom = \"2009-08-01\"\npercent = \"8.875\"\n\
                 [[rates]]\nclass = \"low\"\nfrom = \"2009-08-01\"\npercent = \"5\"\n";
    PricingRules {
        currency: Currency::USD,
        tax_mode: TaxMode::Exclusive,
        tax_table: TaxTable::from_toml(table).unwrap(),
        promotions,
        loyalty: Some(LoyaltyConfig::default()),
    }
}

/// The EU example: 3 apples at 2.49 (reduced, 7 %) on "3 for 2" and a cola at 1.29 (standard, 19 %).
pub(super) fn eu_example() -> PricedCart {
    let mut apples = line("DM-0086", 3, "2.49", "reduced", Currency::EUR);
    apples.name = "Apples 1.5 kg bag".into();
    let mut cola = line("DM-0005", 1, "1.29", "standard", Currency::EUR);
    cola.name = "Cola 1.5 l".into();
    let three_for_two = PromotionRule::MultiBuy { skus: vec!["DM-0086".into()], buy: 3, pay_for: 2 };
    price_cart(&eu_rules(vec![promo("Apples 3 for 2", three_for_two)]), &[apples, cola], d(2024, 5, 3), 0).unwrap()
}

/// (amount, discount, net, tax, gross) of each line.
fn amounts(cart: &PricedCart) -> Vec<(i64, i64, i64, i64, i64)> {
    cart.lines.iter().map(|l| (l.amount_minor, l.discount_minor(), l.net_minor, l.tax_minor, l.gross_minor)).collect()
}

fn rate_rows(cart: &PricedCart) -> Vec<(&str, Decimal, i64, i64, i64)> {
    cart.rates.iter().map(|r| (r.code.as_str(), r.rate, r.net_minor, r.tax_minor, r.gross_minor)).collect()
}

#[test]
fn eu_three_for_two_extracts_vat_per_rate() {
    let cart = eu_example();
    assert_eq!(amounts(&cart), vec![(747, 249, 465, 33, 498), (129, 0, 108, 21, 129)]);
    assert_eq!(cart.lines[0].discounts[0].name, "Apples 3 for 2");
    assert_eq!(cart.lines[0].tax_code, "B");
    // 4.98 * 7/107 = 0.3258 -> 0.33; 1.29 * 19/119 = 0.2060 -> 0.21.
    assert_eq!(rate_rows(&cart), vec![("A", Decimal::from(19), 108, 21, 129), ("B", Decimal::from(7), 465, 33, 498)]);
    assert_eq!((cart.subtotal_minor, cart.total_discount_minor), (876, 249));
    assert_eq!((cart.total_net_minor, cart.total_tax_minor, cart.total_gross_minor), (573, 54, 627));
    assert_eq!(cart.points_earned, 6);
    assert_eq!(cart.lines.iter().map(|l| l.points_earned).collect::<Vec<_>>(), vec![5, 1]);
    assert_eq!(cart.total_gross(), Money::parse("6.27", Currency::EUR).unwrap());
}

#[test]
fn us_sales_tax_is_added_per_rate_on_the_net() {
    let tenth_off = PromotionRule::PercentOff { skus: vec!["US-2".into()], percent: Decimal::TEN };
    let lines =
        [line("US-1", 2, "3.99", "standard", Currency::USD), line("US-2", 1, "12.50", "standard", Currency::USD)];
    let cart = price_cart(&us_rules(vec![promo("Headphones 10 % off", tenth_off)]), &lines, d(2024, 5, 3), 0).unwrap();
    // Net 7.98 + 11.25 = 19.23; 19.23 * 8.875 % = 1.7067 -> 1.71, apportioned 0.71 / 1.00.
    assert_eq!(amounts(&cart), vec![(798, 0, 798, 71, 869), (1250, 125, 1125, 100, 1225)]);
    assert_eq!(rate_rows(&cart), vec![("A", "8.875".parse().unwrap(), 1923, 171, 2094)]);
    assert_eq!((cart.total_net_minor, cart.total_tax_minor, cart.total_gross_minor), (1923, 171, 2094));
    assert_eq!(cart.points_earned, 20);
}

#[test]
fn rates_follow_the_date_of_sale() {
    let lines =
        [line("DM-0005", 1, "1.29", "standard", Currency::EUR), line("DM-0086", 1, "2.49", "reduced", Currency::EUR)];
    let taxes = |date| {
        let cart = price_cart(&eu_rules(vec![]), &lines, date, 0).unwrap();
        cart.rates.iter().map(|r| (r.rate, r.tax_minor)).collect::<Vec<_>>()
    };
    let pct = |p: i64| Decimal::from(p);
    assert_eq!(taxes(d(2020, 6, 30)), vec![(pct(19), 21), (pct(7), 16)]);
    assert_eq!(taxes(d(2020, 7, 1)), vec![(pct(16), 18), (pct(5), 12)]);
    assert_eq!(taxes(d(2020, 12, 31)), vec![(pct(16), 18), (pct(5), 12)]);
    assert_eq!(taxes(d(2021, 1, 1)), vec![(pct(19), 21), (pct(7), 16)]);
    let early = price_cart(&eu_rules(vec![]), &lines, d(2000, 1, 1), 0).unwrap_err();
    assert!(matches!(early, PricingError::NoRateForDate { .. }), "{early:?}");
}

#[test]
fn percent_and_amount_off_round_per_line() {
    let pct = PromotionRule::PercentOff { skus: vec!["A".into(), "B".into()], percent: Decimal::from(15) };
    let lines = [line("A", 2, "1.00", "standard", Currency::EUR), line("B", 1, "3.33", "standard", Currency::EUR)];
    let cart = price_cart(&eu_rules(vec![promo("15 %", pct)]), &lines, d(2024, 1, 1), 0).unwrap();
    // 2.00 * 15 % = 0.30; 3.33 * 15 % = 0.4995 -> 0.50.
    assert_eq!(cart.lines.iter().map(PricedLine::discount_minor).collect::<Vec<_>>(), vec![30, 50]);

    let off = |amount: &str| PromotionRule::AmountOff {
        skus: vec!["A".into(), "C".into()],
        amount: Money::parse(amount, Currency::EUR).unwrap(),
    };
    let lines = [line("A", 3, "1.00", "standard", Currency::EUR), line("C", 2, "0.20", "standard", Currency::EUR)];
    let cart = price_cart(&eu_rules(vec![promo("30 ct off", off("0.30"))]), &lines, d(2024, 1, 1), 0).unwrap();
    // Per unit, never below zero: 3 * 0.30 and 2 * min(0.30, 0.20).
    assert_eq!(cart.lines.iter().map(PricedLine::discount_minor).collect::<Vec<_>>(), vec![90, 40]);
    assert_eq!(cart.lines[1].gross_minor, 0);
}

#[test]
fn half_a_minor_unit_rounds_away_from_zero() {
    // 50 % of 0.25 = 0.125 -> 0.13 (banker's rounding would give 0.12).
    let half = PromotionRule::PercentOff { skus: vec!["A".into()], percent: Decimal::from(50) };
    let lines = [line("A", 1, "0.25", "standard", Currency::EUR)];
    let cart = price_cart(&eu_rules(vec![promo("half", half)]), &lines, d(2024, 1, 1), 0).unwrap();
    assert_eq!(cart.lines[0].discount_minor(), 13);
    // 5 % sales tax on 0.90 = 0.045 -> 0.05 (banker's: 0.04).
    let cart = price_cart(&us_rules(vec![]), &[line("A", 1, "0.90", "low", Currency::USD)], d(2024, 1, 1), 0).unwrap();
    assert_eq!((cart.total_tax_minor, cart.total_gross_minor), (5, 95));
    // A unit price below the minor unit: 3 * 0.125 = 0.375 -> 0.38.
    let cart = price_cart(&us_rules(vec![]), &[line("A", 3, "0.125", "low", Currency::USD)], d(2024, 1, 1), 0).unwrap();
    assert_eq!((cart.lines[0].amount_minor, cart.lines[0].unit_price_minor), (38, 13));
}

#[test]
fn multi_buy_mixes_skus_and_frees_the_cheapest_of_each_group() {
    let rule = PromotionRule::MultiBuy { skus: vec!["A".into(), "B".into()], buy: 3, pay_for: 2 };
    let tenth = PromotionRule::PercentOff { skus: vec!["B".into()], percent: Decimal::TEN };
    let lines = [line("B", 2, "1.00", "standard", Currency::EUR), line("A", 2, "10.00", "standard", Currency::EUR)];
    let cart =
        price_cart(&eu_rules(vec![promo("mix 3 for 2", rule), promo("B 10 %", tenth)]), &lines, d(2024, 1, 1), 0)
            .unwrap();
    // Ranked 10, 10, 1 | 1: the group frees one B; the leftover B gets 10 % off.
    let names: Vec<(&str, i64)> = cart.lines[0].discounts.iter().map(|x| (x.name.as_str(), x.amount_minor)).collect();
    assert_eq!(names, vec![("mix 3 for 2", 100), ("B 10 %", 10)]);
    assert!(cart.lines[1].discounts.is_empty());
}

#[test]
fn buy_x_get_y_rewards_complete_sets_only() {
    let rule = |pct: i64| PromotionRule::BuyGet {
        buy_sku: "SHAMPOO".into(),
        buy: 2,
        get_sku: "CONDITIONER".into(),
        get: 1,
        percent_off: Decimal::from(pct),
    };
    let lines = [
        line("SHAMPOO", 5, "3.00", "standard", Currency::EUR),
        line("CONDITIONER", 3, "2.50", "standard", Currency::EUR),
    ];
    let price = |pct| price_cart(&eu_rules(vec![promo("2+1", rule(pct))]), &lines, d(2024, 1, 1), 0).unwrap();
    // 5 shampoos make 2 complete sets: 2 conditioners free, then at half price.
    assert_eq!(price(100).lines.iter().map(PricedLine::discount_minor).collect::<Vec<_>>(), vec![0, 500]);
    assert_eq!(price(50).lines.iter().map(PricedLine::discount_minor).collect::<Vec<_>>(), vec![0, 250]);

    let same = PromotionRule::BuyGet {
        buy_sku: "A".into(),
        buy: 2,
        get_sku: "A".into(),
        get: 1,
        percent_off: Decimal::ONE_HUNDRED,
    };
    let price_a = |q| {
        let cart = price_cart(
            &eu_rules(vec![promo("2+1", same.clone())]),
            &[line("A", q, "1.00", "standard", Currency::EUR)],
            d(2024, 1, 1),
            0,
        );
        cart.unwrap().total_discount_minor
    };
    assert_eq!((price_a(2), price_a(3), price_a(7)), (0, 100, 200));
}

#[test]
fn only_the_best_basket_promotion_applies_above_its_threshold() {
    let basket = |pct: i64, threshold: &str| PromotionRule::BasketPercentOff {
        threshold: Money::parse(threshold, Currency::EUR).unwrap(),
        percent: Decimal::from(pct),
    };
    let rules = eu_rules(vec![promo("5 % from 20", basket(5, "20.00")), promo("10 % from 100", basket(10, "100.00"))]);
    let lines = [line("A", 1, "40.00", "standard", Currency::EUR), line("B", 1, "20.00", "reduced", Currency::EUR)];
    let cart = price_cart(&rules, &lines, d(2024, 1, 1), 0).unwrap();
    assert_eq!(cart.lines.iter().map(PricedLine::discount_minor).collect::<Vec<_>>(), vec![200, 100]);
    assert_eq!(cart.lines[0].discounts[0].kind, DiscountKind::Basket);
    let big = [line("A", 3, "40.00", "standard", Currency::EUR)];
    assert_eq!(price_cart(&rules, &big, d(2024, 1, 1), 0).unwrap().total_discount_minor, 1_200);
    let small = [line("A", 1, "19.99", "standard", Currency::EUR)];
    assert_eq!(price_cart(&rules, &small, d(2024, 1, 1), 0).unwrap().total_discount_minor, 0);
}

#[test]
fn basket_residual_lands_on_the_largest_line() {
    let rule = PromotionRule::BasketPercentOff { threshold: Money::zero(Currency::EUR), percent: Decimal::from(50) };
    let lines: Vec<CartLine> = ["0.01", "0.03", "0.01"]
        .iter()
        .enumerate()
        .map(|(i, p)| line(&format!("S{i}"), 1, p, "standard", Currency::EUR))
        .collect();
    let cart = price_cart(&eu_rules(vec![promo("half", rule)]), &lines, d(2024, 1, 1), 0).unwrap();
    // 50 % of 0.05 = 0.025 -> 0.03; shares 0.006 -> 0.01, 0.018 -> 0.02, 0.006 -> 0.01 make 0.04,
    // so the residual -0.01 goes on the largest (0.03) line.
    assert_eq!(cart.lines.iter().map(PricedLine::discount_minor).collect::<Vec<_>>(), vec![1, 1, 1]);
    assert_eq!(cart.total_discount_minor, 3);
}

#[test]
fn promotions_apply_in_the_documented_order() {
    // Listed in reverse on purpose: the order is by kind, not by listing.
    let rules = eu_rules(vec![
        promo(
            "basket 10 %",
            PromotionRule::BasketPercentOff { threshold: Money::zero(Currency::EUR), percent: Decimal::TEN },
        ),
        promo("A 10 %", PromotionRule::PercentOff { skus: vec!["A".into()], percent: Decimal::TEN }),
        promo("A 3 for 2", PromotionRule::MultiBuy { skus: vec!["A".into()], buy: 3, pay_for: 2 }),
    ]);
    let cart = price_cart(&rules, &[line("A", 4, "1.00", "standard", Currency::EUR)], d(2024, 1, 1), 100).unwrap();
    let got: Vec<(&str, i64)> = cart.lines[0].discounts.iter().map(|x| (x.name.as_str(), x.amount_minor)).collect();
    // 3 for 2 on 3 units (1.00), 10 % on the fourth (0.10), basket 10 % of 2.90 (0.29), 100 points (1.00).
    assert_eq!(got, vec![("A 3 for 2", 100), ("A 10 %", 10), ("basket 10 %", 29), ("Loyalty points", 100)]);
    // 1.61 paid: VAT 1.61 * 19/119 = 0.2571 -> 0.26; 1 point earned.
    assert_eq!((cart.total_gross_minor, cart.total_tax_minor, cart.total_net_minor), (161, 26, 135));
    assert_eq!((cart.points_redeemed, cart.points_earned), (100, 1));
}

#[test]
fn inactive_promotions_are_skipped() {
    let mut p = promo("summer", PromotionRule::PercentOff { skus: vec!["A".into()], percent: Decimal::TEN });
    p.valid_from = Some(d(2024, 6, 1));
    p.valid_until = Some(d(2024, 8, 31));
    let lines = [line("A", 1, "1.00", "standard", Currency::EUR)];
    let on = |date| price_cart(&eu_rules(vec![p.clone()]), &lines, date, 0).unwrap().total_discount_minor;
    assert_eq!((on(d(2024, 5, 31)), on(d(2024, 6, 1)), on(d(2024, 8, 31)), on(d(2024, 9, 1))), (0, 10, 10, 0));
}

#[test]
fn loyalty_redemption_reduces_the_tax_base_and_is_capped() {
    let lines = [line("A", 1, "10.00", "standard", Currency::EUR), line("B", 1, "10.00", "reduced", Currency::EUR)];
    let cart = price_cart(&eu_rules(vec![]), &lines, d(2024, 1, 1), 500).unwrap();
    // 5.00 split 2.50 / 2.50: VAT 7.50 * 19/119 = 1.20 and 7.50 * 7/107 = 0.49.
    assert_eq!(amounts(&cart), vec![(1000, 250, 630, 120, 750), (1000, 250, 701, 49, 750)]);
    assert_eq!((cart.points_redeemed, cart.points_earned), (500, 15));
    assert_eq!(cart.lines.iter().map(|l| l.points_redeemed).collect::<Vec<_>>(), vec![250, 250]);

    let all = price_cart(&eu_rules(vec![]), &lines, d(2024, 1, 1), 1_000_000).unwrap();
    assert_eq!((all.points_redeemed, all.total_gross_minor, all.total_tax_minor, all.points_earned), (2000, 0, 0, 0));

    let us =
        price_cart(&us_rules(vec![]), &[line("A", 1, "10.00", "standard", Currency::USD)], d(2024, 1, 1), 250).unwrap();
    // Net 7.50, tax 7.50 * 8.875 % = 0.6656 -> 0.67.
    assert_eq!((us.total_net_minor, us.total_tax_minor, us.total_gross_minor), (750, 67, 817));

    let no_programme = PricingRules { loyalty: None, ..eu_rules(vec![]) };
    assert!(matches!(price_cart(&no_programme, &lines, d(2024, 1, 1), 1), Err(PricingError::InvalidLoyalty(_))));
    assert_eq!(price_cart(&no_programme, &lines, d(2024, 1, 1), 0).unwrap().points_earned, 0);
}

#[test]
fn bad_carts_and_rules_are_refused() {
    let date = d(2024, 1, 1);
    let rules = eu_rules(vec![]);
    let usd = [line("A", 1, "1.00", "standard", Currency::USD)];
    assert!(matches!(price_cart(&rules, &usd, date, 0), Err(PricingError::CurrencyMismatch { .. })));
    let zero = [line("A", 0, "1.00", "standard", Currency::EUR)];
    assert_eq!(price_cart(&rules, &zero, date, 0), Err(PricingError::ZeroQuantity { line: 1, sku: "A".into() }));
    let negative = [line("A", 1, "-1.00", "standard", Currency::EUR)];
    assert!(matches!(price_cart(&rules, &negative, date, 0), Err(PricingError::NegativePrice { .. })));
    let luxury = [line("A", 1, "1.00", "luxury", Currency::EUR)];
    assert_eq!(price_cart(&rules, &luxury, date, 0), Err(PricingError::UnknownTaxClass("luxury".into())));
    let four_for_three =
        eu_rules(vec![promo("3 for 4", PromotionRule::MultiBuy { skus: vec!["A".into()], buy: 3, pay_for: 4 })]);
    let ok = [line("A", 1, "1.00", "standard", Currency::EUR)];
    assert!(matches!(price_cart(&four_for_three, &ok, date, 0), Err(PricingError::InvalidPromotion { .. })));
    let huge = [line("A", u32::MAX, "79228162514264337593543950.335", "standard", Currency::EUR)];
    assert_eq!(price_cart(&rules, &huge, date, 0), Err(PricingError::Overflow));
}

#[test]
fn an_empty_cart_prices_to_zero() {
    let cart = price_cart(&eu_rules(vec![]), &[], d(2024, 1, 1), 0).unwrap();
    assert_eq!((cart.total_gross_minor, cart.rates.len(), cart.points_earned), (0, 0, 0));
}

#[test]
fn rules_round_trip_through_json() {
    let rules =
        eu_rules(vec![promo("A 3 for 2", PromotionRule::MultiBuy { skus: vec!["A".into()], buy: 3, pay_for: 2 })]);
    let back: PricingRules = serde_json::from_str(&serde_json::to_string(&rules).unwrap()).unwrap();
    assert_eq!(back, rules);
    let cart = eu_example();
    let back: PricedCart = serde_json::from_str(&serde_json::to_string(&cart).unwrap()).unwrap();
    assert_eq!(back, cart);
}
