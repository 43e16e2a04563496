//! Refunds: a credit note that mirrors the sale for the refunded units.
//!
//! Every value of a sale line (each discount, the tax, the gross or net, the
//! points) is split evenly over the line's units, the first units carrying
//! one extra minor unit each where it does not divide ([`units_share`]).
//! Refunding units `a+1..=b` of a line gives back exactly the parts of those
//! units, so a series of partial refunds adds up to the sale to the minor
//! unit, a unit's tax never exceeds its gross, and the last units refunded
//! close every value exactly. Tax on a refund is the tax charged on those
//! units, not re-extracted, so a credit note never reverses more VAT than
//! the sale charged.

use super::allocate::units_share;
use super::cart::{AppliedDiscount, PricedCart, PricedLine};
use super::receipt::{Receipt, ReceiptKind};
use super::{PricingError, TaxMode, checked_sum};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Units of one sale line to refund.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundItem {
    /// The sale line's `line_no`.
    pub line_no: u32,
    pub quantity: u32,
}

/// What to refund and the credit note's own number and time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequest {
    pub number: i64,
    pub issued_at: DateTime<Utc>,
    pub items: Vec<RefundItem>,
}

/// Refunds units of a sale that has had no refund before.
pub fn refund(sale: &Receipt, request: &RefundRequest) -> Result<Receipt, PricingError> {
    refund_after(sale, &[], request)
}

/// Refunds units of a sale after the `previous` refunds of that same sale:
/// never more units than were sold, and the amounts continue where the
/// previous refunds stopped.
pub fn refund_after(sale: &Receipt, previous: &[Receipt], request: &RefundRequest) -> Result<Receipt, PricingError> {
    let bad = |m: String| Err(PricingError::InvalidRefund(m));
    if sale.kind != ReceiptKind::Sale {
        return bad(format!("receipt {} is not a sale", sale.number));
    }
    let mut refunded: BTreeMap<u32, i64> = BTreeMap::new();
    for p in previous {
        if p.kind != (ReceiptKind::Refund { original_number: sale.number }) {
            return bad(format!("receipt {} is not a refund of receipt {}", p.number, sale.number));
        }
        for l in &p.cart.lines {
            *refunded.entry(l.line_no).or_default() -= l.quantity;
        }
    }
    let mut items = request.items.clone();
    items.sort_by_key(|i| i.line_no);
    if items.is_empty() {
        return bad("nothing to refund".into());
    }
    if let Some(w) = items.windows(2).find(|w| w[0].line_no == w[1].line_no) {
        return bad(format!("line {} is listed twice", w[0].line_no));
    }
    let mut lines = Vec::with_capacity(items.len());
    for item in &items {
        let Some(line) = sale.cart.lines.iter().find(|l| l.line_no == item.line_no) else {
            return bad(format!("receipt {} has no line {}", sale.number, item.line_no));
        };
        let before = refunded.get(&item.line_no).copied().unwrap_or(0);
        let quantity = i64::from(item.quantity);
        if quantity == 0 || before + quantity > line.quantity {
            let left = line.quantity - before;
            return bad(format!("line {}: {quantity} to refund but {left} left to refund", item.line_no));
        }
        lines.push(refund_line(line, sale.cart.tax_mode, before, quantity)?);
    }
    let cart = &sale.cart;
    Ok(Receipt {
        number: request.number,
        kind: ReceiptKind::Refund { original_number: sale.number },
        issued_at: request.issued_at,
        timezone: sale.timezone.clone(),
        seller: sale.seller.clone(),
        payment: sale.payment.clone(),
        cart: PricedCart::from_lines(cart.currency, cart.tax_mode, cart.tax_date, lines)?,
    })
}

/// The negated parts of units `before+1..=before+quantity` of a sale line.
fn refund_line(line: &PricedLine, mode: TaxMode, before: i64, quantity: i64) -> Result<PricedLine, PricingError> {
    let values = [line.tax_minor, line.gross_minor, line.net_minor, line.points_earned, line.points_redeemed];
    if values.iter().chain(line.discounts.iter().map(|d| &d.amount_minor)).any(|v| *v < 0) || line.quantity <= 0 {
        return Err(PricingError::InvalidRefund(format!("line {} is not a sale line", line.line_no)));
    }
    let part = |v: i64| -(units_share(v, line.quantity, before + quantity) - units_share(v, line.quantity, before));
    let tax = part(line.tax_minor);
    let (net, gross) = match mode {
        TaxMode::Inclusive => {
            let gross = part(line.gross_minor);
            (gross - tax, gross)
        }
        TaxMode::Exclusive => {
            let net = part(line.net_minor);
            (net, net + tax)
        }
    };
    let discounts: Vec<AppliedDiscount> = line
        .discounts
        .iter()
        .map(|d| AppliedDiscount { amount_minor: part(d.amount_minor), ..d.clone() })
        .filter(|d| d.amount_minor != 0)
        .collect();
    let base = if mode == TaxMode::Inclusive { gross } else { net };
    Ok(PricedLine {
        quantity: -quantity,
        amount_minor: checked_sum(std::iter::once(base).chain(discounts.iter().map(|d| d.amount_minor)))?,
        discounts,
        net_minor: net,
        tax_minor: tax,
        gross_minor: gross,
        points_earned: part(line.points_earned),
        points_redeemed: part(line.points_redeemed),
        ..line.clone()
    })
}
