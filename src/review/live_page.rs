//! The live store page and its server-sent events: the floor map with the
//! shoppers where the tracker last saw them and degraded plates marked,
//! and the open visits with their running carts (folded from each visit's
//! ledger). The stream sends the whole state as one JSON `state` event on
//! every change of the [`super::LiveView`] (at most four a second), and
//! re-reads the open visits every two seconds; it ends when the session does.

use super::auth::Staffer;
use super::live::LiveSnapshot;
use super::map::{floor_map_svg, short_id};
use super::office::time_label;
use super::pages::{LivePage, LiveVisit, html};
use super::{Console, ConsoleError};
use crate::db::{Product, VisitStatus};
use crate::fusion::ledger;
use crate::ids::{PlateId, Sku};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Fewest milliseconds between two events of one stream.
const MIN_INTERVAL: Duration = Duration::from_millis(250);
/// How often the open visits are read again (and the session checked).
const VISITS_EVERY: Duration = Duration::from_secs(2);

/// Visits in the store now, with what their carts hold.
pub async fn open_visits(c: &Console) -> Result<Vec<LiveVisit>, ConsoleError> {
    let products: BTreeMap<Sku, Product> =
        c.storage.list_products(&c.store).await?.into_iter().map(|p| (p.sku.clone(), p)).collect();
    let mut visits = c.storage.list_visits(&c.store, VisitStatus::Entered).await?;
    visits.extend(c.storage.list_visits(&c.store, VisitStatus::Shopping).await?);
    let mut out = Vec::with_capacity(visits.len());
    for v in visits {
        let cart = ledger::cart(&c.storage.cart_events(&v.id).await?);
        let shopper =
            c.storage.get_shopper(&v.shopper_id).await?.map_or_else(|| v.shopper_id.to_string(), |s| s.display_name);
        let items = cart
            .items
            .iter()
            .map(|(sku, n)| (products.get(sku).map_or_else(|| sku.to_string(), |p| p.name.clone()), *n))
            .collect();
        out.push(LiveVisit {
            id: v.id.to_string(),
            short: short_id(v.id.as_str()),
            shopper,
            entered: time_label(v.entered_at),
            items,
        });
    }
    Ok(out)
}

pub async fn page(who: Staffer) -> Result<Response, ConsoleError> {
    let c = &who.console;
    let snap = c.live.snapshot();
    let degraded: BTreeSet<PlateId> = snap.degraded.iter().filter_map(|d| d.plate.parse().ok()).collect();
    let page = LivePage {
        frame: who.frame("live"),
        map: floor_map_svg(&c.geometry, &degraded, &snap.tracks),
        visits: open_visits(c).await?,
        degraded: snap.degraded.iter().map(|d| (d.plate.clone(), d.reason.clone())).collect(),
    };
    Ok(html(&page))
}

/// One `state` event.
#[derive(Serialize)]
struct Message<'a> {
    #[serde(flatten)]
    live: LiveSnapshot,
    visits: &'a [VisitJson],
}

#[derive(Clone, Serialize)]
struct VisitJson {
    id: String,
    short: String,
    shopper: String,
    entered: String,
    items: Vec<(String, i64)>,
}

struct Feed {
    console: Arc<Console>,
    token_hash: String,
    changes: tokio::sync::watch::Receiver<u64>,
    visits: Vec<VisitJson>,
    visits_read: Option<Instant>,
    first: bool,
}

impl Feed {
    /// Re-reads the open visits when due; `false` when the session has ended.
    async fn refresh(&mut self) -> bool {
        if self.visits_read.is_some_and(|t| t.elapsed() < VISITS_EVERY) {
            return true;
        }
        let c = &self.console;
        match c.storage.staff_session(&self.token_hash).await {
            Ok(Some(s)) if s.expires_at > c.now() => {}
            Ok(_) => return false,
            Err(e) => tracing::warn!(error = %e, "live stream: session check failed"),
        }
        match open_visits(c).await {
            Ok(v) => {
                self.visits = v
                    .into_iter()
                    .map(|v| VisitJson {
                        id: v.id,
                        short: v.short,
                        shopper: v.shopper,
                        entered: v.entered,
                        items: v.items,
                    })
                    .collect();
                self.visits_read = Some(Instant::now());
            }
            Err(e) => tracing::warn!(error = ?e, "live stream: open visits not read"),
        }
        true
    }

    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        if !self.first {
            tokio::time::sleep(MIN_INTERVAL).await;
            tokio::select! {
                changed = self.changes.changed() => changed.ok()?,
                _ = tokio::time::sleep(VISITS_EVERY) => {}
            }
        }
        self.first = false;
        if !self.refresh().await {
            return None;
        }
        let message = Message { live: self.console.live.snapshot(), visits: &self.visits };
        let event = Event::default()
            .event("state")
            .json_data(&message)
            .unwrap_or_else(|_| Event::default().comment("unserialisable"));
        Some((Ok(event), self))
    }
}

pub async fn events(who: Staffer) -> impl IntoResponse {
    let start = Feed {
        changes: who.console.live.subscribe(),
        console: who.console.clone(),
        token_hash: who.session.token_hash.clone(),
        visits: Vec::new(),
        visits_read: None,
        first: true,
    };
    let stream: std::pin::Pin<Box<dyn Stream<Item = Result<Event, Infallible>> + Send>> =
        Box::pin(futures_util::stream::unfold(start, Feed::next));
    Sse::new(stream).keep_alive(KeepAlive::default())
}
