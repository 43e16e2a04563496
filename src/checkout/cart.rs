//! The priced cart document: lines with their discounts and tax, totals per
//! rate and for the receipt. Every amount is in minor units of the cart's
//! currency and every total is exactly the sum of the lines.

use super::tax::TaxMode;
use super::{PricingError, checked_sum};
use crate::ids::Sku;
use crate::money::{Currency, Money};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Where a discount came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscountKind {
    Item,
    Basket,
    /// Loyalty points redeemed: a seller-funded discount, so it reduces the tax base.
    Loyalty,
}

/// A discount on one line; positive on a sale, negative on a refund.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedDiscount {
    /// The promotion's name, or the loyalty programme's label.
    pub name: String,
    pub kind: DiscountKind,
    pub amount_minor: i64,
}

/// A priced line. Identities: `amount - sum(discounts)` is `gross` in
/// inclusive mode and `net` in exclusive mode, and `net + tax = gross`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedLine {
    /// 1-based position on the sale; refunds keep the sale's number.
    pub line_no: u32,
    pub sku: Sku,
    pub name: String,
    /// Negative on a refund.
    pub quantity: i64,
    /// The shelf price rounded to the minor unit; never negated.
    pub unit_price_minor: i64,
    /// `quantity * unit price` before discounts, in shelf prices.
    pub amount_minor: i64,
    pub discounts: Vec<AppliedDiscount>,
    pub tax_class: String,
    /// The letter that ties the line to its rate's totals (`A` is the highest rate).
    pub tax_code: String,
    /// Percent.
    pub tax_rate: Decimal,
    pub net_minor: i64,
    /// This line's share of its rate's tax (the rate total is authoritative).
    pub tax_minor: i64,
    pub gross_minor: i64,
    /// This line's share of the points earned by the receipt.
    pub points_earned: i64,
    /// This line's share of the points redeemed on the receipt.
    pub points_redeemed: i64,
}

impl PricedLine {
    pub fn discount_minor(&self) -> i64 {
        self.discounts.iter().map(|d| d.amount_minor).sum()
    }
}

/// Net, tax and gross of all lines at one rate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateTotal {
    pub code: String,
    pub rate: Decimal,
    pub net_minor: i64,
    pub tax_minor: i64,
    pub gross_minor: i64,
}

/// A priced cart: every amount in minor units of `currency`, and every total
/// is exactly the sum of the lines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedCart {
    pub currency: Currency,
    pub tax_mode: TaxMode,
    /// The date whose tax rates and promotions were applied.
    pub tax_date: NaiveDate,
    pub lines: Vec<PricedLine>,
    /// Highest rate first.
    pub rates: Vec<RateTotal>,
    /// Sum of line amounts before discounts, in shelf prices.
    pub subtotal_minor: i64,
    pub total_discount_minor: i64,
    pub total_net_minor: i64,
    pub total_tax_minor: i64,
    /// What the shopper pays (or, on a refund, gets back, negative).
    pub total_gross_minor: i64,
    pub points_redeemed: i64,
    pub points_earned: i64,
}

impl PricedCart {
    /// A minor-unit amount of this cart as [`Money`].
    pub fn money(&self, minor: i64) -> Money {
        Money::from_minor(minor, self.currency)
    }

    pub fn total_gross(&self) -> Money {
        self.money(self.total_gross_minor)
    }

    /// Totals per rate and for the receipt, summed from `lines`.
    pub(crate) fn from_lines(
        currency: Currency,
        tax_mode: TaxMode,
        tax_date: NaiveDate,
        lines: Vec<PricedLine>,
    ) -> Result<Self, PricingError> {
        let mut rates: Vec<RateTotal> = Vec::new();
        for l in &lines {
            let i = match rates.iter().position(|r| r.rate == l.tax_rate) {
                Some(i) => i,
                None => {
                    let zero = RateTotal {
                        code: l.tax_code.clone(),
                        rate: l.tax_rate,
                        net_minor: 0,
                        tax_minor: 0,
                        gross_minor: 0,
                    };
                    rates.push(zero);
                    rates.len() - 1
                }
            };
            let r = &mut rates[i];
            r.net_minor = checked_sum([r.net_minor, l.net_minor])?;
            r.tax_minor = checked_sum([r.tax_minor, l.tax_minor])?;
            r.gross_minor = checked_sum([r.gross_minor, l.gross_minor])?;
        }
        rates.sort_by_key(|r| std::cmp::Reverse(r.rate));
        let sum = |f: fn(&PricedLine) -> i64| checked_sum(lines.iter().map(f));
        Ok(Self {
            currency,
            tax_mode,
            tax_date,
            subtotal_minor: sum(|l| l.amount_minor)?,
            total_discount_minor: sum(PricedLine::discount_minor)?,
            total_net_minor: sum(|l| l.net_minor)?,
            total_tax_minor: sum(|l| l.tax_minor)?,
            total_gross_minor: sum(|l| l.gross_minor)?,
            points_redeemed: sum(|l| l.points_redeemed)?,
            points_earned: sum(|l| l.points_earned)?,
            rates,
            lines,
        })
    }
}
