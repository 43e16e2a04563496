//! The staff console at `/console/`: server-rendered pages (askama) for the
//! store's staff, with a little progressive JavaScript for the live map.
//!
//! - log in ([`auth`], [`session`]): argon2 hashes, HttpOnly + Secure +
//!   SameSite=Strict cookie sessions stored hashed, a CSRF synchroniser token
//!   on every form, lockout after repeated failures, roles `reviewer` and
//!   `manager`; accounts come from `walkout staff add` ([`staff`]);
//! - the review queue ([`queue`]) and a case page ([`case_page`]): the visit's
//!   ledger with confidences, the shelf's candidates and the evidence
//!   ([`evidence`]: hand crops from [`snapshot`], weight traces drawn by
//!   [`chart`], kept from the live pipeline's [`ring`] buffers, deleted by
//!   [`retention`]); the decision ([`corrections`], [`decide`]) is written to
//!   the ledger as correcting events and to the audit log in one transaction,
//!   then the visit is priced, charged and its receipt sent by the exit;
//! - the live store ([`live`], [`map`], [`live_page`]): floor map, shoppers and
//!   plate health over server-sent events, open visits and their carts;
//! - the back office for managers ([`office`], [`office_pages`]): sales by
//!   hour and product, stock, price discrepancies, review statistics, each
//!   with a chart and a CSV export.
//!
//! Pages fail with [`ConsoleError`]: a friendly page and a 4xx status.

pub mod assets;
pub mod auth;
pub mod case_page;
pub mod chart;
pub mod corrections;
pub mod decide;
pub mod dispute;
mod error;
pub mod evidence;
pub mod live;
pub mod live_page;
pub mod map;
pub mod office;
pub mod office_pages;
pub mod pages;
pub mod queue;
pub mod retention;
pub mod ring;
pub mod session;
pub mod snapshot;
pub mod staff;

pub use error::ConsoleError;
pub use evidence::EvidenceStore;
pub use live::LiveView;

use crate::catalog::Catalog;
use crate::db::{Millis, Storage};
use crate::http::AppState;
use crate::ids::StoreId;
use crate::layout::StoreGeometry;
use crate::money::Currency;
use crate::payments::Clock;
use crate::visit::exit::Exit;
use axum::Router;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use std::sync::Arc;

/// Everything the console's pages need, held by [`AppState`].
pub struct Console {
    pub storage: Arc<dyn Storage>,
    /// Prices, charges and sends the receipt of a decided visit.
    pub exit: Arc<Exit>,
    pub evidence: Arc<EvidenceStore>,
    pub live: Arc<LiveView>,
    pub store: StoreId,
    pub store_name: String,
    pub currency: Currency,
    pub geometry: StoreGeometry,
    pub policy: session::LoginPolicy,
    pub retention: retention::Retention,
    pub clock: Arc<dyn Clock>,
}

impl Console {
    /// The console of `catalog`'s store, its evidence under `config.evidence_dir`.
    pub fn new(
        catalog: &Catalog,
        geometry: StoreGeometry,
        storage: Arc<dyn Storage>,
        exit: Arc<Exit>,
        config: &crate::config::ReviewConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let evidence = EvidenceStore::new(&config.evidence_dir, storage.clone(), clock.clone());
        Self {
            storage,
            exit,
            evidence: Arc::new(evidence),
            live: Arc::new(LiveView::new()),
            store: catalog.store.id.clone(),
            store_name: catalog.store.name.clone(),
            currency: catalog.currency,
            geometry,
            policy: session::LoginPolicy::from_config(config),
            retention: retention::Retention { hours: config.retention_hours },
            clock,
        }
    }

    pub fn now(&self) -> Millis {
        self.clock.now_ms()
    }

    /// The frame of a page shown to `nav` (or to nobody yet).
    pub fn frame(&self, nav: Option<pages::Nav>, active: &'static str) -> pages::Frame {
        pages::Frame { store_name: self.store_name.clone(), retention_hours: self.retention.hours, nav, active }
    }
}

/// The console `serve` runs, and its evidence retention job (every ten
/// minutes until `stop`). The live pipeline feeds `console.live` and keeps
/// evidence of flagged events through `console.evidence`.
pub fn start(
    config: &crate::config::Config,
    catalog: &Catalog,
    geometry: StoreGeometry,
    storage: Arc<dyn Storage>,
    exit: Arc<Exit>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> (Arc<Console>, tokio::task::JoinHandle<()>) {
    let clock: Arc<dyn Clock> = Arc::new(crate::payments::SystemClock);
    let console = Arc::new(Console::new(catalog, geometry, storage, exit, &config.review, clock));
    let every = std::time::Duration::from_secs(600);
    let job = retention::spawn(console.evidence.clone(), console.retention, every, stop);
    (console, job)
}

/// The console of this process, or a 503 page when it is not set up.
pub fn console_of(state: &AppState) -> Result<Arc<Console>, ConsoleError> {
    state.console.clone().ok_or(ConsoleError::NotConfigured)
}

/// The console's routes (merged into [`crate::http::app`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(|| async { Redirect::permanent("/console/") }))
        .route("/console/", get(queue::page))
        .route("/console/login", get(auth::login_page).post(auth::log_in))
        .route("/console/logout", post(auth::log_out))
        .route("/console/privacy", get(privacy))
        .route("/console/cases/{id}", get(case_page::page))
        .route("/console/cases/{id}/decision", post(decide::submit))
        .route("/console/cases/{id}/charge", post(decide::retry_charge))
        .route("/console/evidence/{id}", get(case_page::evidence_file))
        .route("/console/live", get(live_page::page))
        .route("/console/live/events", get(live_page::events))
        .route("/console/office", get(office_pages::page))
        .route("/console/office/csv/{report}", get(office_pages::csv))
        .route("/console/assets/{file}", get(assets::file))
        .route("/console/{*rest}", get(not_found).post(not_found))
}

async fn privacy(who: auth::Staffer) -> Response {
    pages::html(&pages::PrivacyPage { frame: who.frame("privacy") })
}

async fn not_found() -> Response {
    ConsoleError::NotFound("This console page".into()).into_response()
}
