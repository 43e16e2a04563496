//! The gate's pre-authorisation through [`PaymentService`]: the party's hold
//! (`payments.hold_per_person_minor` per person) on the account's default
//! payment method.

use super::gate::{HoldRefused, PreAuthoriser};
use crate::db::Storage;
use crate::ids::{ShopperId, VisitId};
use crate::money::Currency;
use crate::payments::{Outcome, PaymentService, hold_for_party};
use std::sync::Arc;

pub struct PaymentHolds {
    pub storage: Arc<dyn Storage>,
    pub payments: Arc<PaymentService>,
    pub per_person_minor: i64,
    pub currency: Currency,
}

#[async_trait::async_trait]
impl PreAuthoriser for PaymentHolds {
    async fn hold(&self, visit: &VisitId, shopper: &ShopperId, party: i64) -> Result<(), HoldRefused> {
        let unavailable = |e: &dyn std::fmt::Display| {
            tracing::error!(%visit, error = %e, "cannot place the entry hold");
            HoldRefused { code: "payment_unavailable" }
        };
        let methods = self.storage.list_payment_methods(shopper).await.map_err(|e| unavailable(&e))?;
        let method = methods
            .iter()
            .find(|m| m.is_default)
            .or(methods.first())
            .ok_or(HoldRefused { code: "no_payment_method" })?;
        let amount = hold_for_party(self.per_person_minor, party, self.currency);
        let step = self.payments.place_hold(visit, method, amount).await.map_err(|e| unavailable(&e))?;
        match step.outcome {
            Outcome::Succeeded { .. } => Ok(()),
            Outcome::Declined { .. } | Outcome::Rejected { .. } | Outcome::HoldExpired => {
                Err(HoldRefused { code: "card_declined" })
            }
            Outcome::InsufficientFunds => Err(HoldRefused { code: "insufficient_funds" }),
            Outcome::AuthenticationRequired => Err(HoldRefused { code: "authentication_required" }),
        }
    }
}
