//! The entry gate: `POST /gates/{gate}/scan` lands here. A scan is accepted
//! when the token's signature matches a registered, unrevoked device of the
//! account it names, its times hold (with a small clock-skew allowance), and
//! its `jti` was never used, also by another gate process sharing the
//! database. Then the party's pre-authorisation hold is placed and the visit
//! opens, bound to the track the cameras see in the gate zone.
//!
//! Every refusal has a distinct code and is logged with the device and
//! account it claimed (never the token itself).

use super::token::{EntryClaims, TokenError, parse};
use crate::db::{DbError, Storage, Visit, VisitStatus};
use crate::ids::{DeviceId, ShopperId, StoreId, TrackId, VisitId};
use std::sync::Arc;

/// Places the party's pre-authorisation hold (the payments module).
#[async_trait::async_trait]
pub trait PreAuthoriser: Send + Sync {
    /// `party` people on `shopper`'s account are entering as `visit`.
    async fn hold(&self, visit: &VisitId, shopper: &ShopperId, party: i64) -> Result<(), HoldRefused>;
}

/// Why the hold was not placed. `code` is stable and shown to the gate:
/// `no_payment_method`, `card_declined`, `insufficient_funds`,
/// `authentication_required` or `payment_unavailable`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("payment refused: {code}")]
pub struct HoldRefused {
    pub code: &'static str,
}

/// Which floor track the cameras see in the gate zone (the vision tracker).
#[async_trait::async_trait]
pub trait GateTracks: Send + Sync {
    async fn track_at_gate(&self, gate: &str, at_ms: i64) -> Option<TrackId>;

    /// The visit is open and its hold placed: the store loop starts linking
    /// the party's tracks to it.
    async fn visit_opened(&self, _visit: &Visit) {}
}

/// Until the vision tracker runs, no track is bound at the gate: visits open
/// unbound, and their events must come from another source (the ledger API,
/// the simulator).
pub struct NoTracker;

#[async_trait::async_trait]
impl GateTracks for NoTracker {
    async fn track_at_gate(&self, _gate: &str, _at_ms: i64) -> Option<TrackId> {
        None
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Hold(#[from] HoldRefused),
    #[error(transparent)]
    Storage(#[from] DbError),
}

impl GateError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Token(e) => e.code(),
            Self::Hold(h) => h.code,
            Self::Storage(_) => "internal",
        }
    }
}

pub struct Gate {
    pub storage: Arc<dyn Storage>,
    pub store: StoreId,
    pub payments: Arc<dyn PreAuthoriser>,
    pub tracks: Arc<dyn GateTracks>,
    /// Allowed difference between the phone's clock and ours, seconds.
    pub skew_s: i64,
}

impl Gate {
    /// Verifies `token` scanned at `gate` at `now_ms` and opens the visit.
    pub async fn scan(&self, gate: &str, token: &str, now_ms: i64) -> Result<Visit, GateError> {
        let result = self.admit(gate, token, now_ms).await;
        if let Err(e) = &result {
            let claimed = parse(token).ok().map(|u| (u.claims.account, u.claims.device));
            let (account, device) = claimed.map(|(a, d)| (a.to_string(), d.to_string())).unwrap_or_default();
            tracing::warn!(gate, code = e.code(), %account, %device, "entry refused");
        }
        result
    }

    /// Verifies a token and uses up its `jti`: signature against the
    /// registered key of the device it names, revocation, times. The part of
    /// a scan that `walkout bench checkout` times.
    pub async fn verify(&self, token: &str, now_ms: i64) -> Result<(EntryClaims, DeviceId), GateError> {
        let unverified = parse(token)?;
        let device_id: DeviceId = unverified.claims.device.clone();
        let device = self.storage.get_device(&device_id).await?.ok_or(TokenError::UnknownDevice)?;
        if device.shopper_id != unverified.claims.account {
            // A real device key cannot sign for another account's device id.
            return Err(TokenError::Forged.into());
        }
        let claims = unverified.verify(&device.public_key, now_ms.div_euclid(1000), self.skew_s)?;
        if device.revoked_at.is_some_and(|at| at <= now_ms) {
            return Err(TokenError::RevokedDevice.into());
        }
        if !self.storage.consume_entry_token(&claims.jti, &device_id, now_ms).await? {
            return Err(TokenError::Replayed.into());
        }
        Ok((claims, device_id))
    }

    async fn admit(&self, gate: &str, token: &str, now_ms: i64) -> Result<Visit, GateError> {
        let (claims, device_id) = self.verify(token, now_ms).await?;
        let party = 1 + i64::from(claims.guests);
        let visit = Visit {
            id: VisitId::random(),
            store_id: self.store.clone(),
            shopper_id: claims.account.clone(),
            device_id: Some(device_id),
            party_size: party,
            status: VisitStatus::Entered,
            track_id: self.tracks.track_at_gate(gate, now_ms).await.map(|t| t.to_string()),
            entered_at: now_ms,
            exited_at: None,
            settled_at: None,
        };
        // The visit exists before its hold (payments refer to it); a refused
        // hold cancels it, so the record says who tried to enter and why not.
        self.storage.create_visit(&visit).await?;
        if let Err(refused) = self.payments.hold(&visit.id, &claims.account, party).await {
            self.storage.set_visit_status(&visit.id, VisitStatus::Cancelled, now_ms).await?;
            return Err(refused.into());
        }
        self.tracks.visit_opened(&visit).await;
        tracing::info!(gate, visit = %visit.id, party, track = ?visit.track_id, "visit opened");
        Ok(visit)
    }
}
