//! Promotions as configured by a store: what each kind means and when one is
//! well-formed. How they are applied lives in `apply` (item level) and
//! `price` (basket level); the order is documented in `docs/pricing.md`.
//!
//! In TOML (the same shape in JSON):
//!
//! ```toml
//! [[promotions]]
//! name = "Oat drink 3 for 2"
//! kind = "multi_buy"
//! skus = ["DM-0101"]
//! buy = 3
//! pay_for = 2
//! ```

use super::PricingError;
use crate::ids::Sku;
use crate::money::{Currency, Money};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A named promotion, optionally limited to a date range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Promotion {
    /// Shown on the receipt next to each discount it gives.
    pub name: String,
    /// First day it applies (inclusive); open-ended when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<NaiveDate>,
    /// Last day it applies (inclusive); open-ended when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<NaiveDate>,
    #[serde(flatten)]
    pub rule: PromotionRule,
}

/// What a promotion does. Item-level kinds discount units of listed SKUs; a
/// unit takes part in at most one item-level promotion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PromotionRule {
    /// `percent` off every unit of the listed SKUs.
    PercentOff { skus: Vec<Sku>, percent: Decimal },
    /// `amount` off each unit of the listed SKUs (never below zero per unit).
    AmountOff { skus: Vec<Sku>, amount: Money },
    /// "`buy` for the price of `pay_for`" (3 for 2), mixing any of the listed
    /// SKUs: units are ranked by unit price, highest first, grouped by `buy`,
    /// and the cheapest `buy - pay_for` units of each group are free.
    MultiBuy { skus: Vec<Sku>, buy: u32, pay_for: u32 },
    /// Buy `buy` units of `buy_sku`, get `get` units of `get_sku` at
    /// `percent_off` (100 = free). When both SKUs are the same, each group of
    /// `buy + get` units has its `get` cheapest units discounted.
    BuyGet { buy_sku: Sku, buy: u32, get_sku: Sku, get: u32, percent_off: Decimal },
    /// `percent` off the whole basket when the basket (after item-level
    /// promotions, in shelf prices) reaches `threshold`. Only the best
    /// basket promotion applies.
    BasketPercentOff { threshold: Money, percent: Decimal },
}

impl Promotion {
    /// Whether it applies on `date`.
    pub fn active_on(&self, date: NaiveDate) -> bool {
        self.valid_from.is_none_or(|from| from <= date) && self.valid_until.is_none_or(|until| date <= until)
    }

    /// Whether it discounts the basket rather than units.
    pub fn is_basket_level(&self) -> bool {
        matches!(self.rule, PromotionRule::BasketPercentOff { .. })
    }

    /// Checks that the promotion makes sense for a cart in `currency`.
    pub fn validate(&self, currency: Currency) -> Result<(), PricingError> {
        let bad = |reason: &str| PricingError::InvalidPromotion { name: self.name.clone(), reason: reason.to_owned() };
        if self.name.trim().is_empty() {
            return Err(bad("the name is empty"));
        }
        if let (Some(from), Some(until)) = (self.valid_from, self.valid_until)
            && until < from
        {
            return Err(bad("valid_until is before valid_from"));
        }
        let percent_ok = |p: Decimal| p > Decimal::ZERO && p <= Decimal::ONE_HUNDRED;
        let same_currency = |m: &Money| {
            if m.currency == currency {
                Ok(())
            } else {
                Err(PricingError::CurrencyMismatch {
                    expected: currency,
                    found: m.currency,
                    what: format!("promotion {:?}", self.name),
                })
            }
        };
        match &self.rule {
            PromotionRule::PercentOff { skus, percent } => {
                non_empty(skus).map_err(bad)?;
                percent_ok(*percent).then_some(()).ok_or_else(|| bad("percent must be above 0 and at most 100"))
            }
            PromotionRule::AmountOff { skus, amount } => {
                non_empty(skus).map_err(bad)?;
                same_currency(amount)?;
                (amount.amount > Decimal::ZERO).then_some(()).ok_or_else(|| bad("amount must be positive"))
            }
            PromotionRule::MultiBuy { skus, buy, pay_for } => {
                non_empty(skus).map_err(bad)?;
                (*pay_for >= 1 && pay_for < buy)
                    .then_some(())
                    .ok_or_else(|| bad("needs 1 <= pay_for < buy (e.g. 3 for 2)"))
            }
            PromotionRule::BuyGet { buy, get, percent_off, .. } => {
                if *buy == 0 || *get == 0 {
                    return Err(bad("buy and get must be at least 1"));
                }
                percent_ok(*percent_off).then_some(()).ok_or_else(|| bad("percent_off must be above 0 and at most 100"))
            }
            PromotionRule::BasketPercentOff { threshold, percent } => {
                same_currency(threshold)?;
                if threshold.amount < Decimal::ZERO {
                    return Err(bad("threshold must not be negative"));
                }
                percent_ok(*percent).then_some(()).ok_or_else(|| bad("percent must be above 0 and at most 100"))
            }
        }
    }
}

fn non_empty(skus: &[Sku]) -> Result<(), &'static str> {
    if skus.is_empty() { Err("lists no SKU") } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn promo(rule: PromotionRule) -> Promotion {
        Promotion { name: "p".into(), valid_from: None, valid_until: None, rule }
    }

    #[test]
    fn nonsense_promotions_are_refused() {
        let skus = vec![Sku::from("A")];
        let cases = [
            PromotionRule::MultiBuy { skus: skus.clone(), buy: 3, pay_for: 4 },
            PromotionRule::MultiBuy { skus: skus.clone(), buy: 3, pay_for: 3 },
            PromotionRule::MultiBuy { skus: skus.clone(), buy: 3, pay_for: 0 },
            PromotionRule::MultiBuy { skus: vec![], buy: 3, pay_for: 2 },
            PromotionRule::PercentOff { skus: skus.clone(), percent: Decimal::from(101) },
            PromotionRule::PercentOff { skus: skus.clone(), percent: Decimal::ZERO },
            PromotionRule::AmountOff { skus: skus.clone(), amount: Money::from_minor(-5, Currency::EUR) },
            PromotionRule::BuyGet {
                buy_sku: "A".into(),
                buy: 0,
                get_sku: "B".into(),
                get: 1,
                percent_off: Decimal::ONE_HUNDRED,
            },
            PromotionRule::BasketPercentOff { threshold: Money::from_minor(-1, Currency::EUR), percent: Decimal::TEN },
        ];
        for rule in cases {
            let err = promo(rule.clone()).validate(Currency::EUR).unwrap_err();
            assert!(matches!(err, PricingError::InvalidPromotion { .. }), "{rule:?} gave {err:?}");
        }
        let usd = promo(PromotionRule::AmountOff { skus, amount: Money::from_minor(50, Currency::USD) });
        assert!(matches!(usd.validate(Currency::EUR), Err(PricingError::CurrencyMismatch { .. })));
    }

    #[test]
    fn promotions_load_from_toml_and_json() {
        #[derive(Deserialize)]
        struct File {
            promotions: Vec<Promotion>,
        }
        let text = r#"
            [[promotions]]
            name = "Oat drink 3 for 2"
            kind = "multi_buy"
            skus = ["DM-0101"]
            buy = 3
            pay_for = 2
            valid_until = "2024-12-31"

            [[promotions]]
            name = "10 % off from 50 EUR"
            kind = "basket_percent_off"
            threshold = { amount = "50.00", currency = "EUR" }
            percent = "10"
        "#;
        let file: File = toml::from_str(text).unwrap();
        assert_eq!(
            file.promotions[0].rule,
            PromotionRule::MultiBuy { skus: vec!["DM-0101".into()], buy: 3, pay_for: 2 }
        );
        assert!(file.promotions[0].active_on(NaiveDate::from_ymd_opt(2024, 12, 31).unwrap()));
        assert!(!file.promotions[0].active_on(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()));
        assert!(file.promotions[1].is_basket_level());
        for p in &file.promotions {
            p.validate(Currency::EUR).unwrap();
            let json = serde_json::to_string(p).unwrap();
            assert_eq!(&serde_json::from_str::<Promotion>(&json).unwrap(), p);
        }
    }
}
