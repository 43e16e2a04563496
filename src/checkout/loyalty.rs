//! Loyalty points: earned on what the shopper pays, redeemed as a discount.
//!
//! A redemption is funded by the seller, so it is a discount, not a payment:
//! it is allocated to lines like a basket discount and reduces the tax base
//! (EU VAT; also how most US states treat retailer coupons). Points are earned
//! on the gross actually paid, after every discount including the redemption.

use super::{PricingError, minor_per_major, mul};
use crate::money::Currency;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A store's loyalty programme.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoyaltyConfig {
    /// The discount's name on the receipt.
    #[serde(default = "default_label")]
    pub label: String,
    /// Points per whole currency unit of the gross paid (1 EUR -> 1 point).
    pub earn_per_unit: u32,
    /// `redeem_points` points are worth `redeem_value` in the cart's
    /// currency (100 points = 1.00).
    pub redeem_points: u32,
    pub redeem_value: Decimal,
}

fn default_label() -> String {
    "Loyalty points".to_owned()
}

impl Default for LoyaltyConfig {
    fn default() -> Self {
        Self { label: default_label(), earn_per_unit: 1, redeem_points: 100, redeem_value: Decimal::ONE }
    }
}

/// The points used and the discount they bought.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Redemption {
    pub points: i64,
    pub discount_minor: i64,
}

impl LoyaltyConfig {
    pub fn validate(&self) -> Result<(), PricingError> {
        if self.label.trim().is_empty() {
            return Err(PricingError::InvalidLoyalty("label is empty".into()));
        }
        if self.redeem_points == 0 || self.redeem_value <= Decimal::ZERO {
            return Err(PricingError::InvalidLoyalty("redeem_points and redeem_value must be positive".into()));
        }
        Ok(())
    }

    /// Points for paying `gross_minor`: `earn_per_unit` per whole currency
    /// unit, fractions dropped; nothing for a zero or negative amount.
    pub fn points_earned(&self, gross_minor: i64, currency: Currency) -> Result<i64, PricingError> {
        let whole_units = gross_minor.max(0) / 10_i64.pow(currency.exponent());
        whole_units.checked_mul(i64::from(self.earn_per_unit)).ok_or(PricingError::Overflow)
    }

    /// Converts up to `requested` points into a discount of at most
    /// `cap_minor` (what is left to pay). The value of the points is rounded
    /// down to the minor unit (points never buy more than they are worth), and
    /// only the points needed for that discount are used.
    pub fn redeem(&self, requested: u64, cap_minor: i64, currency: Currency) -> Result<Redemption, PricingError> {
        let value_minor = mul(self.redeem_value, minor_per_major(currency))?;
        let points_per = Decimal::from(self.redeem_points);
        let worth = (mul(Decimal::from(requested), value_minor)? / points_per).floor();
        let discount = i64::try_from(worth).map_err(|_| PricingError::Overflow)?.min(cap_minor.max(0));
        let points = (mul(Decimal::from(discount), points_per)? / value_minor).ceil();
        Ok(Redemption { points: i64::try_from(points).map_err(|_| PricingError::Overflow)?, discount_minor: discount })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earns_per_whole_unit_of_the_gross_paid() {
        let l = LoyaltyConfig::default();
        assert_eq!(l.points_earned(627, Currency::EUR).unwrap(), 6);
        assert_eq!(l.points_earned(99, Currency::EUR).unwrap(), 0);
        assert_eq!(l.points_earned(-500, Currency::EUR).unwrap(), 0);
        assert_eq!(l.points_earned(980, "JPY".parse().unwrap()).unwrap(), 980);
        let double = LoyaltyConfig { earn_per_unit: 2, ..LoyaltyConfig::default() };
        assert_eq!(double.points_earned(1_050, Currency::EUR).unwrap(), 20);
    }

    #[test]
    fn redeems_at_the_configured_value_capped_at_the_payable() {
        let l = LoyaltyConfig::default(); // 100 points = 1.00
        assert_eq!(l.redeem(250, 10_000, Currency::EUR).unwrap(), Redemption { points: 250, discount_minor: 250 });
        assert_eq!(l.redeem(5_000, 627, Currency::EUR).unwrap(), Redemption { points: 627, discount_minor: 627 });
        assert_eq!(l.redeem(0, 627, Currency::EUR).unwrap(), Redemption::default());
        // 3 points = 0.01: 10 points are worth 0.0333 -> 0.03, which needs only 9 points.
        let thirds =
            LoyaltyConfig { redeem_points: 3, redeem_value: "0.01".parse().unwrap(), ..LoyaltyConfig::default() };
        assert_eq!(thirds.redeem(10, 10_000, Currency::EUR).unwrap(), Redemption { points: 9, discount_minor: 3 });
        // 200 points = 5 JPY with a cap of 7 JPY: 7 JPY needs 280 points.
        let yen = LoyaltyConfig { redeem_points: 200, redeem_value: Decimal::from(5), ..LoyaltyConfig::default() };
        assert_eq!(
            yen.redeem(1_000, 7, "JPY".parse().unwrap()).unwrap(),
            Redemption { points: 280, discount_minor: 7 }
        );
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(LoyaltyConfig { redeem_points: 0, ..LoyaltyConfig::default() }.validate().is_err());
        assert!(LoyaltyConfig { redeem_value: Decimal::ZERO, ..LoyaltyConfig::default() }.validate().is_err());
        assert!(LoyaltyConfig { label: " ".into(), ..LoyaltyConfig::default() }.validate().is_err());
        LoyaltyConfig::default().validate().unwrap();
    }
}
