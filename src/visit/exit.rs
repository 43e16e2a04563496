//! The exit: a visit's track leaves through the exit zone, the visit
//! closes, its cart (from the ledger) is checked against the review policy,
//! priced, and either charged at once with the receipt issued and queued for
//! e-mail and push, or parked for staff review. Every step is idempotent, so
//! a retry after a crash finishes the visit without charging twice.

use crate::checkout::{
    CartLine, PaymentSummary, PricingError, PricingRules, Receipt as ReceiptDoc, Seller, price_cart,
};
use crate::db::{DbError, NewReceipt, Receipt, ReviewCase, Storage, VisitStatus};
use crate::fusion::{ledger, policy};
use crate::ids::{CaseId, VisitId};
use crate::notify::Notifier;
use crate::payments::{PaymentError, PaymentService};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ExitError {
    #[error("visit {0} not found")]
    UnknownVisit(VisitId),
    #[error("product {0} of the cart is not in the catalogue")]
    UnknownProduct(String),
    #[error(transparent)]
    Pricing(#[from] PricingError),
    #[error(transparent)]
    Payment(#[from] PaymentError),
    #[error(transparent)]
    Storage(#[from] DbError),
}

/// How a visit ended.
#[derive(Debug)]
pub enum ExitOutcome {
    /// Charged; the receipt is issued and its e-mail and pushes queued.
    Charged { receipt: Receipt, document: Box<ReceiptDoc> },
    /// Waiting for staff: the case and why.
    Review { case: CaseId, reasons: Vec<String> },
}

impl ExitOutcome {
    /// `charged` or `review`, for logs.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Charged { .. } => "charged",
            Self::Review { .. } => "review",
        }
    }
}

pub struct Exit {
    pub storage: Arc<dyn Storage>,
    pub payments: Arc<PaymentService>,
    pub notifier: Notifier,
    pub rules: PricingRules,
    /// The store's IANA time zone, printed on receipts.
    pub timezone: String,
    /// Events below this confidence send the visit to review.
    pub review_below_confidence: f64,
}

impl Exit {
    /// Closes the visit and charges it, or sends it to review.
    pub async fn exit(&self, visit_id: &VisitId, at_ms: i64) -> Result<ExitOutcome, ExitError> {
        self.exit_flagged(visit_id, at_ms, &[]).await
    }

    /// A visit fusion closed: appends its ledger as cart events (idempotent:
    /// an event id already stored is not written twice) and exits it with
    /// fusion's review flags. The one way both `serve` and the offline runs
    /// hand a fused visit to checkout.
    pub async fn close_fused(&self, closed: &crate::fusion::ClosedVisit) -> Result<ExitOutcome, ExitError> {
        for e in &closed.events {
            self.storage.append_cart_event(&to_append(e)).await?;
        }
        self.exit_flagged(&closed.visit, (closed.closed_at * 1000.0) as i64, &closed.flags).await
    }

    /// [`Exit::exit`] with the review reasons fusion found while building the
    /// cart (degraded plates, unattributed events): any sends it to review.
    pub async fn exit_flagged(
        &self,
        visit_id: &VisitId,
        at_ms: i64,
        fusion_flags: &[String],
    ) -> Result<ExitOutcome, ExitError> {
        let visit = self.storage.get_visit(visit_id).await?.ok_or_else(|| ExitError::UnknownVisit(visit_id.clone()))?;
        if visit.status == VisitStatus::Settled || visit.status == VisitStatus::Review {
            return self.settled_or_pending(visit_id).await;
        }
        self.storage.set_visit_status(visit_id, VisitStatus::Exited, at_ms).await?;
        let reasons = self.review_reasons(&visit, fusion_flags).await?;
        if !reasons.is_empty() {
            return self.send_to_review(&visit, reasons, at_ms).await;
        }
        self.charge(visit_id, at_ms).await
    }

    /// Why the cart cannot be charged without a human ([`policy::review_reasons`]).
    async fn review_reasons(
        &self,
        visit: &crate::db::Visit,
        fusion_flags: &[String],
    ) -> Result<Vec<String>, ExitError> {
        let cart = ledger::cart(&self.storage.cart_events(&visit.id).await?);
        let mut restricted = std::collections::BTreeSet::new();
        for sku in cart.items.keys() {
            if self.storage.get_product(&visit.store_id, sku).await?.is_some_and(|p| p.age_restricted) {
                restricted.insert(sku.clone());
            }
        }
        Ok(policy::review_reasons(&cart, fusion_flags, self.review_below_confidence, |sku| restricted.contains(sku)))
    }

    async fn send_to_review(
        &self,
        visit: &crate::db::Visit,
        reasons: Vec<String>,
        at_ms: i64,
    ) -> Result<ExitOutcome, ExitError> {
        let case = CaseId(format!("case-{}", visit.id));
        let case_row =
            ReviewCase::open(case.clone(), visit.id.clone(), visit.store_id.clone(), reasons.join("; "), at_ms);
        let opened = self.storage.open_review_case(&case_row).await;
        match opened {
            Ok(()) | Err(DbError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        self.storage.set_visit_status(&visit.id, VisitStatus::Review, at_ms).await?;
        tracing::info!(visit = %visit.id, reasons = ?reasons, "visit sent to review");
        Ok(ExitOutcome::Review { case, reasons })
    }

    async fn settled_or_pending(&self, visit_id: &VisitId) -> Result<ExitOutcome, ExitError> {
        let case = CaseId(format!("case-{visit_id}"));
        if let Some(c) = self.storage.get_review_case(&case).await?.filter(|c| c.status != "decided") {
            return Ok(ExitOutcome::Review { case, reasons: vec![c.reason] });
        }
        self.charge(visit_id, crate::now_ms()).await
    }

    /// Prices the cart and charges it (also after a review approved it).
    pub async fn charge(&self, visit_id: &VisitId, at_ms: i64) -> Result<ExitOutcome, ExitError> {
        let visit = self.storage.get_visit(visit_id).await?.ok_or_else(|| ExitError::UnknownVisit(visit_id.clone()))?;
        let cart = ledger::cart(&self.storage.cart_events(visit_id).await?);
        let mut lines = Vec::new();
        for (sku, units) in &cart.items {
            let product = self.storage.get_product(&visit.store_id, sku).await?;
            let product = product.ok_or_else(|| ExitError::UnknownProduct(sku.to_string()))?;
            lines.push(CartLine::from_product(&product, u32::try_from(*units).unwrap_or(u32::MAX))?);
        }
        let issued_at = chrono::DateTime::from_timestamp_millis(at_ms).unwrap_or_default();
        let priced = price_cart(&self.rules, &lines, issued_at.date_naive(), 0)?;
        let settlement = self.payments.settle(visit_id, priced.total_gross()).await?;
        if !settlement.is_paid() {
            let reason = format!("payment_failed: {} unpaid", settlement.unpaid());
            return self.send_to_review(&visit, vec![reason], at_ms).await;
        }
        let store = self
            .storage
            .get_store(&visit.store_id)
            .await?
            .ok_or_else(|| DbError::NotFound { what: "store", id: visit.store_id.to_string() })?;
        let methods = self.storage.list_payment_methods(&visit.shopper_id).await?;
        let method = methods.iter().find(|m| m.is_default).or(methods.first());
        let payment = method.filter(|_| priced.total_gross_minor > 0).map(PaymentSummary::from_method);
        let seller = Seller::from_store(&store);
        let doc = |number: i64| {
            ReceiptDoc::sale(number, issued_at, self.timezone.clone(), seller.clone(), payment.clone(), priced.clone())
        };
        let new = NewReceipt {
            id: uuid::Uuid::new_v4().to_string(),
            store_id: visit.store_id.clone(),
            visit_id: visit_id.clone(),
            shopper_id: visit.shopper_id.clone(),
            issued_at: at_ms,
            currency: priced.currency.code().to_owned(),
            total_minor: priced.total_gross_minor,
            tax_minor: priced.total_tax_minor,
        };
        let render = |n: i64| serde_json::to_string(&doc(n)).unwrap_or_default();
        let receipt = self.storage.issue_receipt(&new, &render).await?;
        let document = doc(receipt.receipt_no);
        if receipt.id == new.id && priced.points_earned > 0 {
            // Points go with the first issue of the receipt only, never twice.
            self.storage.add_loyalty_points(&visit.shopper_id, priced.points_earned).await?;
        }
        let shopper = self.storage.get_shopper(&visit.shopper_id).await?;
        let subscriptions = self.storage.push_subscriptions(&visit.shopper_id).await?;
        let email = shopper.as_ref().map(|s| s.email.as_str());
        // Queued, never sent inline: a bad address or a full outbox must not undo a charge.
        if let Err(e) = self.notifier.enqueue_receipt(&receipt.id, &document, email, &subscriptions, at_ms).await {
            tracing::warn!(visit = %visit_id, receipt = %receipt.id, error = %e, "receipt notifications not queued");
        }
        self.storage.set_visit_status(visit_id, VisitStatus::Settled, at_ms).await?;
        tracing::info!(visit = %visit_id, receipt = receipt.receipt_no, total_minor = receipt.total_minor, "visit charged");
        Ok(ExitOutcome::Charged { receipt, document: Box::new(document) })
    }
}

/// A decided cart event as the ledger's append request.
fn to_append(e: &crate::db::CartEvent) -> crate::db::NewCartEvent {
    crate::db::NewCartEvent {
        id: e.id.clone(),
        store_id: e.store_id.clone(),
        visit_id: e.visit_id.clone(),
        kind: e.kind,
        sku: e.sku.clone(),
        quantity: e.quantity,
        confidence: e.confidence,
        source: e.source.clone(),
        evidence_ref: e.evidence_ref.clone(),
        shopper_id: e.shopper_id.clone(),
        track_id: e.track_id.clone(),
        at: e.at,
    }
}
