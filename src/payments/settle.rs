//! Settlement and refund rules, over [`PaymentService::run_step`]:
//!
//! - total 0 (empty cart): release the hold (`cancel`);
//! - total <= hold: capture the total;
//! - total > hold: capture the whole hold and charge the excess off-session;
//! - hold expired at settle time (the provider answers `HoldExpired` to the
//!   capture): charge the whole total off-session instead;
//! - refund `n`: idempotent per `n`, never above what was captured and
//!   charged minus the other refunds; it takes from the capture first, then
//!   from the charge (one provider refund each).

use super::keys::{self, Operation};
use super::service::{Call, PaymentService, positive};
use super::{Amount, Outcome, PaymentError, Step};
use crate::ids::VisitId;
use crate::money::{Currency, Money};

/// What a visit's settlement did.
#[derive(Clone, Debug, PartialEq)]
pub struct Settlement {
    pub total: Money,
    /// Taken from the shopper: captured from the hold plus charged off-session.
    pub collected: Money,
    /// In the order they ran: `cancel`, or `capture` then maybe `charge`.
    pub steps: Vec<Step>,
}

impl Settlement {
    pub fn is_paid(&self) -> bool {
        self.collected == self.total
    }

    /// What is still owed (a declined excess charge, a rejected capture).
    pub fn unpaid(&self) -> Money {
        Money::new(self.total.amount - self.collected.amount, self.total.currency)
    }
}

/// What one refund did.
#[derive(Clone, Debug, PartialEq)]
pub struct Refund {
    pub requested: Money,
    pub refunded: Money,
    /// One per captured payment it drew from (the capture, then the charge).
    pub steps: Vec<Step>,
}

impl Refund {
    pub fn is_complete(&self) -> bool {
        self.refunded == self.requested
    }
}

/// The entry hold for a party: `payments.hold_per_person_minor` per person.
pub fn hold_for_party(per_person_minor: i64, party_size: i64, currency: Currency) -> Money {
    Money::from_minor(per_person_minor.saturating_mul(party_size.max(1)), currency)
}

impl PaymentService {
    /// Settles a visit for `total` against its hold (rules in the module
    /// header). Idempotent: a repeat with the same total returns the stored
    /// steps; another total is refused with [`PaymentError::KeyReuse`].
    pub async fn settle(&self, visit: &VisitId, total: Money) -> Result<Settlement, PaymentError> {
        let total_minor = total.to_minor()?;
        if total_minor < 0 {
            return Err(PaymentError::InvalidAmount { amount: total.to_string(), reason: "must not be negative" });
        }
        let currency = total.currency;
        let _guard = self.lock(visit).await;
        let (hold_ref, hold) = self.hold_of(visit).await?;
        if hold.currency != currency {
            return Err(mismatch(hold.currency, currency));
        }
        let mut done = Settlement {
            total: Money::from_minor(total_minor, currency),
            collected: Money::zero(currency),
            steps: Vec::new(),
        };
        if total_minor == 0 {
            let key = keys::for_visit(visit, Operation::Cancel);
            done.steps.push(self.run_step(visit, key, Call::Cancel { hold_ref }, hold).await?);
            return Ok(done);
        }
        let capture_minor = total_minor.min(hold.minor);
        let key = keys::for_visit(visit, Operation::Capture);
        let capture =
            self.run_step(visit, key, Call::Capture { hold_ref }, Amount::new(capture_minor, currency)).await?;
        let mut collected = 0;
        let to_charge = match &capture.outcome {
            Outcome::Succeeded { .. } => {
                collected = capture_minor;
                total_minor - capture_minor
            }
            Outcome::HoldExpired => total_minor,
            _ => 0, // a rejected capture: nothing more to do, the caller sees why
        };
        done.steps.push(capture);
        if to_charge > 0 {
            let token = self.charge_token(visit).await?;
            let key = keys::for_visit(visit, Operation::Charge);
            let charge = self.run_step(visit, key, Call::Charge { token }, Amount::new(to_charge, currency)).await?;
            if charge.outcome.is_success() {
                collected += to_charge;
            }
            done.steps.push(charge);
        }
        done.collected = Money::from_minor(collected, currency);
        Ok(done)
    }

    /// Refund number `seq` of `amount`. Idempotent per `seq`; refused with
    /// [`PaymentError::RefundExceedsCaptured`] above what is left to refund.
    pub async fn refund(&self, visit: &VisitId, amount: Money, seq: u32) -> Result<Refund, PaymentError> {
        let wanted = positive(amount)?;
        let _guard = self.lock(visit).await;
        let rows = self.storage.payments_for_visit(visit).await?;
        let own = [keys::refund(visit, seq), keys::refund_of_charge(visit, seq)];
        let sources = [
            (keys::for_visit(visit, Operation::Capture), &own[0]),
            (keys::for_visit(visit, Operation::Charge), &own[1]),
        ];
        let mut parts = Vec::new();
        for (paid_key, part_key) in sources {
            let Some(paid) = rows.iter().find(|p| p.idempotency_key == paid_key && p.state == "succeeded") else {
                continue;
            };
            if paid.currency != wanted.currency.code() {
                return Err(PaymentError::CurrencyMismatch {
                    expected: paid.currency.clone(),
                    got: wanted.currency.to_string(),
                });
            }
            let of_charge = keys::is_refund_of_charge(part_key);
            // Other refunds against this payment, counting pending ones (they may have gone through).
            let refunded: i64 = rows
                .iter()
                .filter(|r| r.operation == "refund" && !own.contains(&r.idempotency_key))
                .filter(|r| keys::is_refund_of_charge(&r.idempotency_key) == of_charge)
                .filter(|r| matches!(r.state.as_str(), "succeeded" | "pending"))
                .map(|r| r.amount_minor)
                .sum();
            let payment_ref = paid.provider_ref.clone().unwrap_or_default();
            parts.push((payment_ref, (paid.amount_minor - refunded).max(0), part_key.clone()));
        }
        let refundable: i64 = parts.iter().map(|p| p.1).sum();
        if wanted.minor > refundable {
            return Err(PaymentError::RefundExceedsCaptured {
                requested: Money::from_minor(wanted.minor, wanted.currency),
                refundable: Money::from_minor(refundable, wanted.currency),
            });
        }
        let (mut left, mut refunded, mut steps) = (wanted.minor, 0, Vec::new());
        for (payment_ref, available, key) in parts {
            let part = left.min(available);
            if part == 0 {
                continue;
            }
            let step =
                self.run_step(visit, key, Call::Refund { payment_ref }, Amount::new(part, wanted.currency)).await?;
            if step.outcome.is_success() {
                refunded += part;
            }
            left -= part;
            steps.push(step);
        }
        Ok(Refund {
            requested: Money::from_minor(wanted.minor, wanted.currency),
            refunded: Money::from_minor(refunded, wanted.currency),
            steps,
        })
    }

    /// The visit's successful hold: the provider's reference and the amount.
    async fn hold_of(&self, visit: &VisitId) -> Result<(String, Amount), PaymentError> {
        let key = keys::for_visit(visit, Operation::Authorise);
        let Some(hold) = self.storage.payment_by_key(&key).await? else {
            return Err(PaymentError::NoHold(visit.clone()));
        };
        match hold.state.as_str() {
            "succeeded" => {
                let currency: Currency = hold.currency.parse()?;
                Ok((hold.provider_ref.unwrap_or_default(), Amount::new(hold.amount_minor, currency)))
            }
            "pending" => Err(PaymentError::HoldPending(visit.clone())),
            _ => Err(PaymentError::NoHold(visit.clone())),
        }
    }

    /// The token an off-session charge goes to: the shopper's default saved
    /// method for this provider, else the oldest one.
    async fn charge_token(&self, visit: &VisitId) -> Result<String, PaymentError> {
        let v = self.storage.get_visit(visit).await?.ok_or_else(|| PaymentError::VisitNotFound(visit.clone()))?;
        let methods = self.storage.list_payment_methods(&v.shopper_id).await?;
        let name = self.provider.name();
        let ours: Vec<_> = methods.iter().filter(|m| m.provider == name).collect();
        ours.iter()
            .find(|m| m.is_default)
            .or(ours.first())
            .map(|m| m.provider_token.clone())
            .ok_or_else(|| PaymentError::NoPaymentMethod { visit: visit.clone(), provider: name.to_owned() })
    }
}

fn mismatch(expected: Currency, got: Currency) -> PaymentError {
    PaymentError::CurrencyMismatch { expected: expected.to_string(), got: got.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hold_scales_with_the_party() {
        assert_eq!(hold_for_party(5_000, 3, Currency::EUR), Money::from_minor(15_000, Currency::EUR));
        assert_eq!(hold_for_party(5_000, 0, Currency::EUR), Money::from_minor(5_000, Currency::EUR));
    }

    #[test]
    fn unpaid_is_the_total_minus_what_was_collected() {
        let s = Settlement {
            total: Money::from_minor(7_350, Currency::EUR),
            collected: Money::from_minor(5_000, Currency::EUR),
            steps: vec![],
        };
        assert!(!s.is_paid());
        assert_eq!(s.unpaid(), Money::from_minor(2_350, Currency::EUR));
    }
}
