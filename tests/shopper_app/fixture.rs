//! The store behind the app in these tests: the real router with SQLite,
//! the sandbox provider, the gate, the exit and the outbox, a local push
//! service, and the router on a socket for the browser.

use super::support::http::call;
use super::support::store::DemoStore;
use axum::http::StatusCode;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use walkout::db::{CartEventKind, NewCartEvent, SqlStore, Storage};
use walkout::http::{AppState, app};
use walkout::ids::{ShopperId, Sku, StoreId, VisitId};
use walkout::notify::{MemoryMailer, OutboxWorker, VapidKey, WebPushSender, parse_mailbox};
use walkout::payments::SandboxProvider;
use walkout::telemetry::Metrics;
use walkout::visit::exit::{Exit, ExitOutcome};

const WAIT: Duration = Duration::from_secs(90);

/// The demo store with every real part the app touches, and a push endpoint.
pub struct Store {
    pub router: axum::Router,
    pub storage: Arc<SqlStore>,
    pub sandbox: Arc<SandboxProvider>,
    pub exit: Arc<Exit>,
    pub worker: OutboxWorker,
    pub pushes: Arc<Mutex<Vec<Vec<u8>>>>,
    pub push_url: String,
    pub _dir: tempfile::TempDir,
}

pub async fn open_store(provider: &'static str) -> Store {
    let DemoStore { storage, sandbox, payments, gate, exit, dir, .. } = DemoStore::open().await;
    let vapid = VapidKey::generate();
    let mut state = AppState::new(storage.clone(), Arc::new(Metrics::default()), "sqlite");
    state.payment_provider = provider;
    state.gate = Some(gate);
    state.payments = Some(payments);
    state.auto_refund_max_minor = 100;
    state.vapid_public_key = Some(vapid.public_key_b64().to_owned());
    let push = WebPushSender::new(vapid, "mailto:ops@walkout.test").unwrap().allow_http(true);
    let from = parse_mailbox("receipts@walkout.test").unwrap();
    let worker = OutboxWorker::new(storage.clone(), Arc::new(MemoryMailer::default()), Arc::new(push), from);
    let (push_url, pushes) = push_endpoint().await;
    Store { router: app(state), storage, sandbox, exit, worker, pushes, push_url, _dir: dir }
}

/// A push service on loopback that keeps the encrypted bodies it receives.
async fn push_endpoint() -> (String, Arc<Mutex<Vec<Vec<u8>>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let keep = received.clone();
    let router = axum::Router::new().route(
        "/push/{id}",
        axum::routing::post(move |body: axum::body::Bytes| {
            let keep = keep.clone();
            async move {
                keep.lock().unwrap().push(body.to_vec());
                StatusCode::CREATED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/push/phone", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, received)
}

/// The router on a real socket, until [`Served::stop`].
pub struct Served {
    pub origin: String,
    pub stop: tokio::sync::oneshot::Sender<()>,
    pub task: tokio::task::JoinHandle<()>,
}

pub async fn serve(router: axum::Router) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        axum::serve(listener, router).with_graceful_shutdown(shutdown).await.unwrap();
    });
    Served { origin, stop, task }
}

impl Served {
    /// Closes the listener and every connection: the store has no signal now.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(WAIT, self.task).await.expect("the server stops").unwrap();
    }
}

pub async fn get(
    router: &axum::Router,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut req = axum::http::Request::get(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let response = router.clone().oneshot(req.body(axum::body::Body::empty()).unwrap()).await.unwrap();
    let (parts, body) = response.into_parts();
    (parts.status, parts.headers, body.collect().await.unwrap().to_bytes().to_vec())
}

/// Signs up over the API with a sandbox card; returns the session and shopper.
pub async fn api_shopper(store: &Store, email: &str) -> (String, ShopperId) {
    let account = json!({"email": email, "password": "a long enough password", "display_name": "Ana"});
    let (status, body) = call(&store.router, "POST", "/api/v1/accounts", None, account).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let session = body["token"].as_str().unwrap().to_owned();
    let card = json!({"provider_token": "tok_visa", "brand": "visa", "last4": "4242"});
    assert_eq!(
        call(&store.router, "POST", "/api/v1/payment-methods", Some(&session), card).await.0,
        StatusCode::CREATED
    );
    (session, ShopperId(body["shopper_id"].as_str().unwrap().to_owned()))
}

/// Water (under the auto-refund limit) and three cans (over it) for a visit.
pub async fn shop(store: &Store, visit: &VisitId) {
    for (n, (sku, quantity)) in [("DM-0002", 1), ("DM-0018", 3)].into_iter().enumerate() {
        let event = NewCartEvent {
            id: format!("{visit}-{n}"),
            store_id: StoreId::from("demo-store"),
            visit_id: Some(visit.clone()),
            kind: CartEventKind::Pick,
            sku: Sku::from(sku),
            quantity,
            confidence: 0.99,
            source: "test".into(),
            evidence_ref: None,
            shopper_id: None,
            track_id: None,
            at: walkout::now_ms(),
        };
        store.storage.append_cart_event(&event).await.unwrap();
    }
}

/// Exits a visit that was charged; returns the receipt id and the document.
pub async fn charge(store: &Store, visit: &VisitId) -> (String, walkout::checkout::Receipt) {
    match store.exit.exit(visit, walkout::now_ms()).await.unwrap() {
        ExitOutcome::Charged { receipt, document } => (receipt.id, *document),
        other => panic!("expected a charge, got {other:?}"),
    }
}

pub fn line_of(document: &walkout::checkout::Receipt, sku: &str) -> u32 {
    document.cart.lines.iter().find(|l| l.sku.as_str() == sku).unwrap().line_no
}
