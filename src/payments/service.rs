//! [`PaymentService`]: runs each payment step exactly once per idempotency
//! key. A step is recorded `pending` in storage before the provider is
//! called and finished with the provider's outcome after; a row already
//! final is a retry (its outcome comes back, the provider is not called); a
//! row still `pending` is an interrupted attempt, resumed by asking the
//! provider again with the same key (its idempotency makes that safe).
//! Settlement and refund rules live in `settle.rs`.

use super::keys::{self, Operation};
use super::{
    Amount, AuthoriseRequest, CancelRequest, CaptureRequest, ChargeRequest, Clock, Outcome, PaymentProvider,
    ProviderError, RefundRequest, record,
};
use crate::db::{DbError, Payment, PaymentMethod, PaymentRecord, Storage};
use crate::ids::VisitId;
use crate::money::{Money, MoneyError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Why a payment operation could not run. Declines are not errors: they are
/// [`Outcome`]s inside the returned [`Step`].
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("payments storage: {0}")]
    Storage(#[from] DbError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error("invalid amount {amount}: {reason}")]
    InvalidAmount { amount: String, reason: &'static str },
    #[error("visit {0} not found")]
    VisitNotFound(VisitId),
    #[error("visit {0} has no successful hold to settle against")]
    NoHold(VisitId),
    #[error("the hold of visit {0} is still pending: place it again (same key) to finish it first")]
    HoldPending(VisitId),
    #[error("the shopper of visit {visit} has no saved `{provider}` payment method to charge")]
    NoPaymentMethod { visit: VisitId, provider: String },
    #[error("payment method is for provider `{method}`, the configured provider is `{configured}`")]
    WrongProvider { method: String, configured: String },
    #[error("currency mismatch: the visit's payments are in {expected}, got {got}")]
    CurrencyMismatch { expected: String, got: String },
    /// The key was first used for a different operation or amount (e.g. a
    /// second settle of a visit with another total).
    #[error("idempotency key {key} was first used for {stored}, not {requested}")]
    KeyReuse { key: String, stored: String, requested: String },
    #[error("refund of {requested} exceeds what is left to refund ({refundable})")]
    RefundExceedsCaptured { requested: Money, refundable: Money },
}

/// One provider operation and its outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub operation: Operation,
    pub idempotency_key: String,
    pub amount: Money,
    pub outcome: Outcome,
    /// The outcome was stored by an earlier call and returned without calling the provider.
    pub replayed: bool,
}

/// Where a test may stop the process to prove crash safety.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultPoint {
    /// The provider has answered; its outcome is not yet committed to storage.
    AfterProviderCall,
}

/// Called at each [`FaultPoint`] with the step's idempotency key. For
/// crash tests only (`tests/payments_crash.rs` aborts the process from it);
/// production services have none.
pub type FaultHook = Arc<dyn Fn(FaultPoint, &str) + Send + Sync>;

/// What the provider is asked to do for one step.
pub(crate) enum Call {
    Authorise { token: String },
    Capture { hold_ref: String },
    Cancel { hold_ref: String },
    Charge { token: String },
    Refund { payment_ref: String },
}

impl Call {
    fn operation(&self) -> Operation {
        match self {
            Call::Authorise { .. } => Operation::Authorise,
            Call::Capture { .. } => Operation::Capture,
            Call::Cancel { .. } => Operation::Cancel,
            Call::Charge { .. } => Operation::Charge,
            Call::Refund { .. } => Operation::Refund,
        }
    }
}

/// Moves a visit's money: hold at the gate, settle at the exit, refunds.
pub struct PaymentService {
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) provider: Arc<dyn PaymentProvider>,
    clock: Arc<dyn Clock>,
    fault_hook: Option<FaultHook>,
    locks: VisitLocks,
}

impl PaymentService {
    pub fn new(storage: Arc<dyn Storage>, provider: Arc<dyn PaymentProvider>, clock: Arc<dyn Clock>) -> Self {
        Self { storage, provider, clock, fault_hook: None, locks: VisitLocks::default() }
    }

    /// Installs a [`FaultHook`] (crash tests only).
    pub fn with_fault_hook(mut self, hook: FaultHook) -> Self {
        self.fault_hook = Some(hook);
        self
    }

    /// Places the entry hold (`walkout:<visit>:authorise`) on `method`. A
    /// repeat returns the stored outcome; a pending one is finished.
    pub async fn place_hold(
        &self,
        visit: &VisitId,
        method: &PaymentMethod,
        amount: Money,
    ) -> Result<Step, PaymentError> {
        if method.provider != self.provider.name() {
            return Err(PaymentError::WrongProvider {
                method: method.provider.clone(),
                configured: self.provider.name().to_owned(),
            });
        }
        let amount = positive(amount)?;
        let _guard = self.locks.lock(visit).await;
        let key = keys::for_visit(visit, Operation::Authorise);
        self.run_step(visit, key, Call::Authorise { token: method.provider_token.clone() }, amount).await
    }

    pub(crate) async fn lock(&self, visit: &VisitId) -> VisitGuard<'_> {
        self.locks.lock(visit).await
    }

    pub(crate) async fn run_step(
        &self,
        visit: &VisitId,
        key: String,
        call: Call,
        amount: Amount,
    ) -> Result<Step, PaymentError> {
        let operation = call.operation();
        let now = self.clock.now_ms();
        let row = Payment {
            id: uuid::Uuid::new_v4().to_string(),
            visit_id: visit.clone(),
            operation: operation.stored_as().to_owned(),
            idempotency_key: key.clone(),
            provider: self.provider.name().to_owned(),
            provider_ref: None,
            amount_minor: amount.minor,
            currency: amount.currency.code().to_owned(),
            state: "pending".to_owned(),
            error_code: None,
            created_at: now,
            updated_at: now,
        };
        let stored = match self.storage.begin_payment(&row).await? {
            PaymentRecord::Created(p) => p,
            PaymentRecord::Existing(p) => {
                same_request(&p, &row)?;
                p
            }
        };
        let step = |outcome, replayed| Step {
            operation,
            idempotency_key: key.clone(),
            amount: Money::from_minor(amount.minor, amount.currency),
            outcome,
            replayed,
        };
        if let Some(outcome) =
            record::from_record(&stored.state, stored.provider_ref.as_deref(), stored.error_code.as_deref())
        {
            return Ok(step(outcome, true));
        }
        if stored.id != row.id {
            tracing::warn!(key = %key, "resuming a payment step left pending by an interrupted attempt");
        }
        let outcome = self.call_provider(visit, &key, call, amount).await?;
        if let Some(hook) = &self.fault_hook {
            hook(FaultPoint::AfterProviderCall, &key);
        }
        let (state, code) = record::to_record(&outcome);
        self.storage.finish_payment(&key, state, outcome.reference(), code.as_deref(), self.clock.now_ms()).await?;
        tracing::info!(key = %key, state, "payment step finished");
        Ok(step(outcome, false))
    }

    async fn call_provider(
        &self,
        visit: &VisitId,
        key: &str,
        call: Call,
        amount: Amount,
    ) -> Result<Outcome, ProviderError> {
        let (idempotency_key, reference) = (key.to_owned(), visit.to_string());
        let p = &self.provider;
        match call {
            Call::Authorise { token } => {
                p.authorise(&AuthoriseRequest { idempotency_key, token, amount, reference }).await
            }
            Call::Capture { hold_ref } => {
                p.capture(&CaptureRequest { idempotency_key, hold_ref, amount, reference }).await
            }
            Call::Cancel { hold_ref } => p.cancel(&CancelRequest { idempotency_key, hold_ref, reference }).await,
            Call::Charge { token } => p.charge(&ChargeRequest { idempotency_key, token, amount, reference }).await,
            Call::Refund { payment_ref } => {
                p.refund(&RefundRequest { idempotency_key, payment_ref, amount, reference }).await
            }
        }
    }
}

/// A key seen before must have been used for the same request.
fn same_request(stored: &Payment, wanted: &Payment) -> Result<(), PaymentError> {
    if stored.provider != wanted.provider {
        return Err(PaymentError::WrongProvider {
            method: stored.provider.clone(),
            configured: wanted.provider.clone(),
        });
    }
    let describe = |p: &Payment| format!("{} of {} {}", p.operation, p.amount_minor, p.currency);
    if (&stored.operation, stored.amount_minor, &stored.currency)
        != (&wanted.operation, wanted.amount_minor, &wanted.currency)
    {
        return Err(PaymentError::KeyReuse {
            key: wanted.idempotency_key.clone(),
            stored: describe(stored),
            requested: describe(wanted),
        });
    }
    Ok(())
}

/// The amount in minor units (rounded half away from zero), refused unless positive.
pub(crate) fn positive(amount: Money) -> Result<Amount, PaymentError> {
    let minor = amount.to_minor()?;
    if minor <= 0 {
        return Err(PaymentError::InvalidAmount { amount: amount.to_string(), reason: "must be positive" });
    }
    Ok(Amount::new(minor, amount.currency))
}

/// One async lock per visit, so concurrent calls for the same visit in this
/// process run one after the other (the second finds the first's stored
/// outcome). Across processes the storage key and the provider's
/// idempotency keep money moving once; this only saves provider calls.
#[derive(Default)]
struct VisitLocks(Mutex<HashMap<VisitId, Arc<tokio::sync::Mutex<()>>>>);

impl VisitLocks {
    async fn lock(&self, visit: &VisitId) -> VisitGuard<'_> {
        let mutex = self.0.lock().unwrap_or_else(|e| e.into_inner()).entry(visit.clone()).or_default().clone();
        let guard = mutex.lock_owned().await;
        VisitGuard { locks: self, visit: visit.clone(), guard: Some(guard) }
    }
}

pub(crate) struct VisitGuard<'a> {
    locks: &'a VisitLocks,
    visit: VisitId,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for VisitGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self.locks.0.lock().unwrap_or_else(|e| e.into_inner());
        // Only the map holds it: nobody waits, so the entry can go.
        if map.get(&self.visit).is_some_and(|m| Arc::strong_count(m) == 1) {
            map.remove(&self.visit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    #[test]
    fn amounts_are_rounded_explicitly_and_must_be_positive() {
        let a = positive(Money::parse("12.345", Currency::EUR).unwrap()).unwrap();
        assert_eq!(a, Amount::new(1_235, Currency::EUR));
        assert!(matches!(positive(Money::zero(Currency::EUR)), Err(PaymentError::InvalidAmount { .. })));
    }

    #[tokio::test]
    async fn visit_locks_serialise_one_visit_and_clean_up() {
        let locks = VisitLocks::default();
        let v = VisitId::from("v");
        let first = locks.lock(&v).await;
        let other = locks.lock(&VisitId::from("w")).await; // another visit does not wait
        let held = locks.0.lock().unwrap().get(&v).unwrap().clone();
        assert!(held.try_lock().is_err(), "a second caller for the visit waits");
        drop(held);
        drop((first, other));
        drop(locks.lock(&v).await);
        assert!(locks.0.lock().unwrap().is_empty());
    }
}
