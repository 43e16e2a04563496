//! Fusion: who took what. Shelf events (what changed on which plates) meet
//! the tracker's anonymous tracks (where every shopper's hands were) and the
//! gate's scans (which account each party pays with):
//!
//! - [`attribute`]: the probability that each track's hand made a shelf event;
//! - [`concurrent`]: two events at once on one gondola, scored together
//!   (which of two shoppers reached into which plate);
//! - [`items`]: what the hands held (hand crops against the product gallery),
//!   weighing both who moved the item and which product it was;
//! - [`visits`]: which tracks belong to which visit (joined at the gate,
//!   rejoined when the tracker loses someone, out through the exit);
//! - [`looks`]: each track's clothing look, and the one it settled on
//!   (a track that no longer looks like who came in for its visit);
//! - [`engine`]: the time-ordered state machine that turns those into a
//!   per-visit ledger of cart events and hands closed visits to checkout;
//! - [`ledger`]: the cart at any moment, derived from the ledger alone;
//! - [`policy`]: when a visit goes to staff review instead of being charged;
//! - [`runner`]: plates, cameras and gate scans through shelf pipeline,
//!   tracker and fusion: the one loop live and offline runs share;
//! - [`live`]: that loop fed by MQTT and the gate inside `walkout serve`.

pub mod attribute;
pub mod concurrent;
pub mod engine;
pub mod items;
pub mod ledger;
pub mod live;
pub mod looks;
pub mod policy;
pub mod runner;
pub mod visits;

pub use engine::{ClosedVisit, EventDecision, Fusion, FusionParams, FusionStats};
