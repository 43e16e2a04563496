//! Checkout pricing: the pure core that turns a cart into a priced receipt.
//!
//! Everything here is synchronous, deterministic and free of I/O. The path a
//! cart takes (see `docs/pricing.md` for the rules and worked examples):
//!
//! 1. [`CartLine`]s in, one currency, each with a tax class;
//! 2. item-level [`Promotion`]s in a fixed order, then the best basket-level
//!    promotion, then a loyalty redemption ([`LoyaltyConfig`]), each allocated
//!    to lines so per-rate tax stays correct;
//! 3. tax per rate from a dated [`TaxTable`], in [`TaxMode::Inclusive`] (EU
//!    VAT, extracted) or [`TaxMode::Exclusive`] (US sales tax, added);
//! 4. a [`PricedCart`], wrapped into a legally complete [`Receipt`], which
//!    [`refund`] mirrors and [`render_text`] prints.
//!
//! Arithmetic is `rust_decimal` over minor units; every rounding to a whole
//! minor unit is explicit and half away from zero. Amounts that have been
//! rounded are held as `i64` minor units with the document's ISO 4217
//! currency, which is also their wire and database format.

mod allocate;
mod apply;
mod cart;
mod loyalty;
mod price;
mod promotion;
mod receipt;
mod refund;
mod render;
mod tax;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests_pricing;
#[cfg(test)]
mod tests_receipt;

pub use cart::{AppliedDiscount, DiscountKind, PricedCart, PricedLine, RateTotal};
pub use loyalty::{LoyaltyConfig, Redemption};
pub use price::{CartLine, PricingRules, price_cart};
pub use promotion::{Promotion, PromotionRule};
pub use receipt::{PaymentSummary, Receipt, ReceiptKind, Seller};
pub use refund::{RefundItem, RefundRequest, refund, refund_after};
pub use render::render_text;
pub use tax::{TaxMode, TaxRateEntry, TaxTable};

use crate::ids::Sku;
use crate::money::Currency;
use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};

/// Why a cart could not be priced or refunded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PricingError {
    #[error("currency mismatch: the cart is in {expected} but {what} is in {found}")]
    CurrencyMismatch { expected: Currency, found: Currency, what: String },
    #[error("unknown currency {0:?}")]
    UnknownCurrency(String),
    #[error("unknown tax class {0:?}: not in the tax table")]
    UnknownTaxClass(String),
    #[error("no {class:?} tax rate in force on {date}: the earliest starts on {earliest}")]
    NoRateForDate { class: String, date: NaiveDate, earliest: NaiveDate },
    #[error("line {line} ({sku}): quantity is zero")]
    ZeroQuantity { line: usize, sku: Sku },
    #[error("line {line} ({sku}): unit price is negative")]
    NegativePrice { line: usize, sku: Sku },
    #[error("invalid promotion {name:?}: {reason}")]
    InvalidPromotion { name: String, reason: String },
    #[error("invalid tax table: {0}")]
    InvalidTaxTable(String),
    #[error("invalid loyalty settings: {0}")]
    InvalidLoyalty(String),
    #[error("invalid refund: {0}")]
    InvalidRefund(String),
    #[error("amount overflow while pricing")]
    Overflow,
}

/// Rounds a value in minor units to a whole minor unit, half away from zero
/// (`round_dp`'s default would be banker's rounding).
pub(crate) fn round_minor(value: Decimal) -> Result<i64, PricingError> {
    let rounded = value.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    i64::try_from(rounded).map_err(|_| PricingError::Overflow)
}

/// `10^exponent` as a decimal: the number of minor units in one major unit.
pub(crate) fn minor_per_major(currency: Currency) -> Decimal {
    Decimal::from(10_i64.pow(currency.exponent()))
}

/// Sums minor-unit amounts, refusing to wrap.
pub(crate) fn checked_sum<I: IntoIterator<Item = i64>>(values: I) -> Result<i64, PricingError> {
    values.into_iter().try_fold(0_i64, |acc, v| acc.checked_add(v).ok_or(PricingError::Overflow))
}

/// Multiplies two decimals, refusing to overflow.
pub(crate) fn mul(a: Decimal, b: Decimal) -> Result<Decimal, PricingError> {
    a.checked_mul(b).ok_or(PricingError::Overflow)
}
