//! The fusion engine: one synchronous state machine fed, in time order, by
//! gate scans, tracker steps and shelf events, live or offline alike. For
//! each shelf event it waits until the tracks around it are known, finds
//! the visit whose member's hand was at the plates ([`attribute`]), decides
//! the product (the shelf's weight candidates, or an item the visit holds
//! when something comes back to a shelf it does not belong on) and appends
//! a cart event to that visit's ledger. When a visit closes at the exit it
//! waits a grace period for late shelf events, then hands over the ledger
//! and the reasons, if any, why staff should look at it first. Where it
//! decided another product than the shelf booked, it hands out a stock
//! correction; live, it forgets what is ten minutes old. Deciding one
//! event is in [`decide`]; what was taken (hand crops, the product) in
//! [`taken`]; two events at once on one
//! gondola, scored together (and an event that waits for its mate), and
//! several units taken with another shopper's hand in the plate, in
//! [`concurrent`]; which visits an event leaves in doubt, in [`doubts`].

mod concurrent;
mod decide;
mod doubts;
mod lifts;
mod taken;

use super::attribute::{AttributionParams, PlateReach, TrackHistory, TrackSample, TrackSeries};
use super::concurrent::ConcurrentParams;
use super::items::ItemParams;
use super::looks::{LookParams, Looks};
use super::visits::{LinkParams, VisitBook, VisitLinks};
use crate::catalog::Catalog;
use crate::db::{CartEvent, Product};
use crate::ids::{PlateId, Sku, StoreId, TrackId, VisitId};
use crate::layout::StoreGeometry;
use crate::shelf::lifts::TwoLifts;
use crate::shelf::pipeline::{ShelfEvent, StockMove};
use crate::vision::tracker::TrackState;
use std::collections::BTreeMap;

/// A track this likely (or more) to have made a stock-only event is named
/// as its author in the warning (`FusionStats::unlinked_author`).
const LIKELY_AUTHOR_P: f64 = 0.5;

#[derive(Clone, Debug, PartialEq)]
pub struct FusionParams {
    pub attribution: AttributionParams,
    pub concurrent: ConcurrentParams,
    pub items: ItemParams,
    pub link: LinkParams,
    pub looks: LookParams,
    /// Shelf events settling this long after a visit closed still count (s).
    pub grace_s: f64,
    /// Below this probability of the best visit, the event is flagged unattributed.
    pub min_attribution_p: f64,
    /// Below this, no visit is a plausible author: the event is booked to stock only.
    pub nobody_below_p: f64,
    /// When the best visit's probability is under `contest_below_p` (the
    /// review threshold: staff will look at that visit), every other visit
    /// at or above `contested_p` is flagged too (the item may be theirs).
    pub contest_below_p: f64,
    pub contested_p: f64,
}

impl Default for FusionParams {
    fn default() -> Self {
        Self {
            attribution: AttributionParams::default(),
            concurrent: ConcurrentParams::default(),
            items: ItemParams::default(),
            link: LinkParams::default(),
            looks: LookParams::default(),
            grace_s: 6.0,
            min_attribution_p: 0.6,
            nobody_below_p: 0.05,
            contest_below_p: 0.9,
            contested_p: 0.1,
        }
    }
}

impl FusionParams {
    pub fn from_config(c: &crate::config::FusionConfig) -> Self {
        Self {
            grace_s: c.grace_s,
            min_attribution_p: c.min_attribution_p,
            contest_below_p: c.review_below_confidence,
            looks: LookParams { changed_above: c.look_changed_above, ..LookParams::default() },
            ..Self::default()
        }
    }
}

/// A closed visit: its ledger and anything that needs a human.
#[derive(Clone, Debug, PartialEq)]
pub struct ClosedVisit {
    pub visit: VisitId,
    pub closed_at: f64,
    pub events: Vec<CartEvent>,
    /// Review reasons found while fusing (degraded plates, unattributed events).
    pub flags: Vec<String>,
}

/// Live, decisions and visits closed this long ago (s) are forgotten: far
/// past the grace window for late shelf events (`grace_s`), the crops'
/// reach (`moved_nearby`, 60 s) and the track history (120 s).
pub const FORGET_AFTER_S: f64 = 600.0;
/// How often (s of input time) the forgetting runs.
const FORGET_EVERY_S: f64 = 60.0;

/// How one shelf event was decided (the evidence a reviewer or an engineer reads).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct EventDecision {
    pub t: f64,
    pub t_end: f64,
    pub gondola: u16,
    pub shelf: u16,
    /// The plates that changed, by number on the shelf.
    pub plates: Vec<u16>,
    pub delta_g: f64,
    /// The visit it went to and that visit's probability.
    pub visit: Option<VisitId>,
    pub p_visit: f64,
    /// Runner-up visit's probability (0 when alone).
    pub p_second: f64,
    pub second: Option<VisitId>,
    /// Nearest hand of the chosen track (m), if hands were seen.
    pub hand_distance_m: Option<f64>,
    pub sku: Option<Sku>,
    pub qty: u32,
    pub p_product: f64,
    pub shelf_ambiguous: bool,
    /// Hand crops of the chosen track around the event, and their
    /// likelihood ratio for the product decided (1 without crops).
    pub hand_crops: usize,
    pub crop_ratio: f64,
    /// How far the chosen track's clothing look was from the settled look
    /// of the shopper who came in for its visit alone (None for a party),
    /// and the nearest other visit's gate member's, with that distance
    /// (None without embeddings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub look_distance: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub look_other: Option<(VisitId, f64)>,
    /// The event went to another visit than the actor track's own, by the
    /// looks of this track (`Fusion::swapped_to`): the actor itself, which
    /// looked like that visit's shopper, or the track wearing the clothes
    /// of the shopper the actor's visit came in with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_look: Option<TrackId>,
    /// The best-scoring tracks (up to three), with their hand evidence.
    pub tracks: Vec<super::attribute::TrackScore>,
    /// Another event at the same time nearby, scored together with this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrent: Option<concurrent::Concurrent>,
    /// Every track's hand series around the event, kept only when
    /// [`Fusion::keep_evidence`] is set (the accuracy bench fits on it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<TrackSeries>,
    /// A pick of several units whose plate level went in two lifts
    /// (`shelf::lifts`), and, when another visit's hand made one of them,
    /// the units that visit got.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifts: Option<TwoLifts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split: Option<lifts::LiftSplit>,
}

/// Per track: hand crops seen around an event, and their likelihood ratio per candidate product.
type CropRatios = BTreeMap<TrackId, (usize, BTreeMap<Sku, f64>)>;

/// Counters for the operator.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct FusionStats {
    pub shelf_events: u64,
    pub attributed: u64,
    /// Events no tracked shopper was near (booked to stock only).
    pub nobody_near: u64,
    /// Events whose likely author was a track linked to no visit (someone
    /// who did not come in through the gate, or a track the visit book lost):
    /// booked to stock only, logged as a warning for staff.
    pub unlinked_author: u64,
    /// Events that arrived after their visit had been handed over.
    pub too_late: u64,
}

pub struct Fusion {
    params: FusionParams,
    store: StoreId,
    geometry: StoreGeometry,
    products: BTreeMap<Sku, Product>,
    history: TrackHistory,
    looks: Looks,
    book: VisitBook,
    pending: Vec<ShelfEvent>,
    ledgers: BTreeMap<VisitId, Vec<CartEvent>>,
    flags: BTreeMap<VisitId, Vec<String>>,
    closing: Vec<(VisitId, f64)>,
    handed_over: BTreeMap<VisitId, f64>,
    pub stats: FusionStats,
    /// Decided shelf events, in decision order: every one with
    /// `keep_history`, else those of the last [`FORGET_AFTER_S`].
    pub decisions: Vec<EventDecision>,
    /// Keep each decision's full track evidence (for fitting; off live).
    pub keep_evidence: bool,
    /// Keep every decision and every visit's links for a report (offline
    /// runs). Off, as live, what is [`FORGET_AFTER_S`] old is forgotten so a
    /// store running for weeks neither grows nor slows.
    pub keep_history: bool,
    /// When the last forgetting ran.
    forgot_at: f64,
    /// When a track last carried a hand crop (the cameras send them).
    last_crop_t: f64,
    /// Stock movements that undo or replace what the shelf booked, where
    /// fusion decided another product (a put-back of something the visit
    /// held, which the weight alone took for the plate's own product).
    stock_corrections: Vec<StockMove>,
}

impl Fusion {
    pub fn new(params: FusionParams, catalog: &Catalog, geometry: StoreGeometry) -> Self {
        let store = catalog.store.id.clone();
        let products = catalog.products.clone();
        let book = VisitBook::new(params.link.clone());
        Self {
            params,
            store,
            geometry,
            products,
            history: TrackHistory::default(),
            looks: Looks::default(),
            book,
            pending: Vec::new(),
            ledgers: BTreeMap::new(),
            flags: BTreeMap::new(),
            closing: Vec::new(),
            handed_over: BTreeMap::new(),
            stats: FusionStats::default(),
            decisions: Vec::new(),
            keep_evidence: false,
            keep_history: false,
            forgot_at: f64::NEG_INFINITY,
            last_crop_t: f64::NEG_INFINITY,
            stock_corrections: Vec::new(),
        }
    }

    /// The visit a track is linked to, if any.
    pub fn visit_of_track(&self, track: &TrackId) -> Option<VisitId> {
        self.book.visit_of(track).map(|v| v.id.clone())
    }

    /// Every visit opened so far, its scan time and the tracks linked to
    /// it, with how each was linked (diagnostics).
    pub fn visit_members(&self) -> Vec<VisitLinks> {
        self.book
            .visits
            .iter()
            .map(|v| (v.id.clone(), v.scan_t, v.members.iter().cloned().zip(v.linked_by.iter().copied()).collect()))
            .collect()
    }

    /// The stock corrections decided since the last call (see
    /// [`StockMove::replaced_by`]); the caller applies them to the stock book.
    pub fn take_stock_corrections(&mut self) -> Vec<StockMove> {
        std::mem::take(&mut self.stock_corrections)
    }

    /// A gate scan opened `visit` for a host and `guests`.
    pub fn scan(&mut self, t: f64, visit: VisitId, guests: u8) {
        self.book.scan(t, visit, guests);
    }

    pub fn shelf_event(&mut self, event: ShelfEvent) {
        self.stats.shelf_events += 1;
        self.pending.push(event);
    }

    /// One tracker step; returns visits ready for checkout.
    pub fn tracks(&mut self, t: f64, states: &[TrackState]) -> Vec<ClosedVisit> {
        for s in states {
            if !s.hand_crops.is_empty() {
                self.last_crop_t = t;
            }
            self.looks.observe(t, &s.id, s.appearance.as_deref(), self.params.looks.settle_s);
            self.history
                .push(&s.id, TrackSample { t, x: s.x, y: s.y, hands: s.hands.clone(), crops: s.hand_crops.clone() });
        }
        let seen: Vec<(TrackId, f64, f64)> = states.iter().map(|s| (s.id.clone(), s.x, s.y)).collect();
        for visit in self.book.step(&self.geometry, t, &seen) {
            self.closing.push((visit, t));
        }
        self.settle_events(Some(t));
        self.history.forget_before(t - 120.0);
        let closed = self.hand_over(t);
        if !self.keep_history && t - self.forgot_at >= FORGET_EVERY_S {
            self.forget_before(t - FORGET_AFTER_S);
            self.forgot_at = t;
        }
        closed
    }

    /// Drops decisions, closed visits and handed-over marks older than
    /// `before` (nothing decided now looks that far back).
    fn forget_before(&mut self, before: f64) {
        self.decisions.retain(|d| d.t >= before);
        self.handed_over.retain(|_, closed_at| *closed_at >= before);
        self.book.forget_before(before);
        self.looks.forget_before(before);
    }

    /// End of input at `t`: decides every pending event and hands over every
    /// visit; one never seen leaving goes to review (`not_seen_leaving`).
    pub fn finish(&mut self, t: f64) -> Vec<ClosedVisit> {
        self.settle_events(None);
        for visit in self.book.close_all(t) {
            self.flags.entry(visit.clone()).or_default().push("not_seen_leaving".into());
            self.closing.push((visit, t));
        }
        self.hand_over(f64::INFINITY)
    }

    /// Decides the pending events whose track window has passed, and their
    /// hand crops' while the cameras send crops (all when `now` is None);
    /// one that a concurrent event still to come could change waits for it
    /// a little longer ([`Fusion::awaits_concurrent`]).
    fn settle_events(&mut self, now: Option<f64>) {
        let (items, tracks_after) = (&self.params.items, self.params.attribution.after_s);
        let crops_sent = now.is_some_and(|t| t - self.last_crop_t <= items.reported_within_s);
        let after = tracks_after.max(if crops_sent { items.window_s } else { 0.0 });
        // A mate is reported as late with crops as without: its wait is
        // measured from the end of the crops' window either way.
        let mate_by = tracks_after.max(items.window_s) + self.params.concurrent.wait_s;
        let is_ready: Vec<bool> = self
            .pending
            .iter()
            .map(|e| match now {
                None => true,
                Some(t) if t < e.t_end + after => false,
                Some(t) => t >= e.t_end + mate_by || !self.awaits_concurrent(e),
            })
            .collect();
        let (ready, waiting): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.pending).into_iter().zip(is_ready).partition(|(_, ready)| *ready);
        self.pending = waiting.into_iter().map(|(e, _)| e).collect();
        let mut ready: std::collections::VecDeque<ShelfEvent> = ready.into_iter().map(|(e, _)| e).collect();
        while let Some(e) = ready.pop_front() {
            self.decide(e, ready.make_contiguous());
        }
    }

    fn hand_over(&mut self, now: f64) -> Vec<ClosedVisit> {
        let grace = self.params.grace_s;
        let oldest_pending = self.pending.iter().map(|e| e.t).fold(f64::INFINITY, f64::min);
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.closing)
            .into_iter()
            .partition(|(_, closed_at)| now >= closed_at + grace && oldest_pending > *closed_at);
        self.closing = waiting;
        ready
            .into_iter()
            .map(|(visit, closed_at)| {
                self.handed_over.insert(visit.clone(), closed_at);
                let events = self.ledgers.remove(&visit).unwrap_or_default();
                let mut flags = self.flags.remove(&visit).unwrap_or_default();
                // A doubtful link matters only when that track brought items,
                // and not when the looks settle it.
                for (track, why) in self.book.uncertain_links(&visit) {
                    let brought = events.iter().any(|e| e.track_id.as_deref() == Some(track.as_str()));
                    if brought && !self.look_confirms_link(&visit, &track) {
                        flags.push(why);
                    }
                }
                ClosedVisit { events, flags, visit, closed_at }
            })
            .collect()
    }

    fn plate_reaches(&self, e: &ShelfEvent) -> Vec<PlateReach> {
        self.reaches_of(e.gondola, e.shelf, &e.plates)
    }

    fn reaches_of(&self, gondola: u16, shelf: u16, plates: &[u16]) -> Vec<PlateReach> {
        let height = self.params.attribution.reach_height_m;
        plates
            .iter()
            .filter_map(|p| self.geometry.plate(&PlateId::new(gondola, shelf, *p)))
            .map(|p| PlateReach::from_corners(&p.corners, height))
            .collect()
    }
}
