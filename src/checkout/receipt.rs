//! The receipt document: a priced cart plus what makes it a legally complete
//! receipt (seller, VAT number, number, date and time, payment). Rendering to
//! e-mail or HTML belongs to `notify`; [`super::render_text`] is the plain
//! text both can use.

use super::cart::PricedCart;
use crate::db::{PaymentMethod, Store};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who sold: printed at the top of every receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seller {
    pub name: String,
    pub address: String,
    pub vat_number: String,
}

impl Seller {
    pub fn from_store(store: &Store) -> Self {
        Self { name: store.name.clone(), address: store.address.clone(), vat_number: store.vat_number.clone() }
    }
}

/// How it was paid: the card brand and last four digits, never more.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentSummary {
    pub brand: String,
    pub last4: String,
}

impl PaymentSummary {
    pub fn from_method(method: &PaymentMethod) -> Self {
        Self { brand: method.brand.clone(), last4: method.last4.clone() }
    }
}

/// A sale, or a refund (credit note) that refers to the sale it reverses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReceiptKind {
    Sale,
    Refund { original_number: i64 },
}

/// A receipt as issued. On a refund every quantity and amount is negative.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Sequential per store, never reused.
    pub number: i64,
    pub kind: ReceiptKind,
    pub issued_at: DateTime<Utc>,
    /// The store's IANA time zone (`Europe/Berlin`), for showing `issued_at`
    /// as local time.
    pub timezone: String,
    pub seller: Seller,
    /// `None` when no card was charged (the points covered everything).
    pub payment: Option<PaymentSummary>,
    pub cart: PricedCart,
}

impl Receipt {
    /// A sale receipt for a priced cart.
    pub fn sale(
        number: i64,
        issued_at: DateTime<Utc>,
        timezone: impl Into<String>,
        seller: Seller,
        payment: Option<PaymentSummary>,
        cart: PricedCart,
    ) -> Self {
        Self { number, kind: ReceiptKind::Sale, issued_at, timezone: timezone.into(), seller, payment, cart }
    }

    /// The fields a legally complete receipt needs but this one lacks (empty
    /// when complete): seller name, address and VAT number, time zone, at
    /// least one line, and a payment method with four last digits whenever
    /// money moved.
    pub fn missing_fields(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        let blank = |s: &str| s.trim().is_empty();
        for (value, name) in [
            (&self.seller.name, "seller.name"),
            (&self.seller.address, "seller.address"),
            (&self.seller.vat_number, "seller.vat_number"),
            (&self.timezone, "timezone"),
        ] {
            if blank(value) {
                missing.push(name);
            }
        }
        if self.cart.lines.is_empty() {
            missing.push("lines");
        }
        match &self.payment {
            None if self.cart.total_gross_minor != 0 => missing.push("payment"),
            Some(p) if blank(&p.brand) => missing.push("payment.brand"),
            Some(p) if p.last4.len() != 4 || !p.last4.bytes().all(|b| b.is_ascii_digit()) => {
                missing.push("payment.last4")
            }
            _ => {}
        }
        missing
    }
}
