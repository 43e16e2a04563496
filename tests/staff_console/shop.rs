//! The store behind the console tests: the shared demo store
//! (`support::store`) with the staff console on a manual clock, staff
//! accounts, flagged visits with real evidence kept through the evidence
//! store, and a cookie-keeping client that drives the router with `oneshot`.

use super::support::store::DemoStore;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use std::collections::BTreeMap;
use std::sync::Arc;
use tower::ServiceExt;
use walkout::config::ReviewConfig;
use walkout::db::CartEventKind;
use walkout::http::app;
use walkout::ids::{CameraId, CaseId, PlateId, Sku, VisitId};
use walkout::payments::ManualClock;
use walkout::review::Console;
use walkout::review::evidence::{Candidate, View};
use walkout::review::snapshot::PixelBox;
use walkout::review::staff::{Role, add_staff};
use walkout::visit::exit::ExitOutcome;

pub const PASSWORD: &str = "correct horse battery";

pub struct Shop {
    pub demo: DemoStore,
    pub console: Arc<Console>,
    pub clock: Arc<ManualClock>,
    pub router: axum::Router,
}

/// A visit sent to review at the exit: two cans picked surely, a bottle of
/// water picked with low confidence (the event with evidence).
pub struct Flagged {
    pub visit: VisitId,
    pub case: CaseId,
    pub water_event: String,
}

/// A real ceiling-camera still when the AiFi data is here, else a drawn scene.
pub fn frame() -> (image::RgbImage, &'static str) {
    let still = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/aifi-nanostore/camera_angles/camera_1.png");
    if let Ok(img) = image::open(&still) {
        return (img.to_rgb8(), "AiFi camera 1 still");
    }
    println!("NOTE: {} is absent: the snapshot is cut from a drawn frame", still.display());
    let img = image::RgbImage::from_fn(640, 360, |x, y| {
        let shelf = (y / 40) % 2 == 0 && x > 200;
        if shelf { image::Rgb([150, 120, 90]) } else { image::Rgb([(x / 3) as u8, (y / 2) as u8, 120]) }
    });
    (img, "drawn frame")
}

pub async fn open_shop() -> Shop {
    let demo = DemoStore::open().await;
    let clock = Arc::new(ManualClock::new(walkout::now_ms()));
    let calibration = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("calibration/demo-store");
    let geometry = walkout::layout::load_geometry(&calibration.join("geometry.json")).unwrap();
    let config =
        ReviewConfig { evidence_dir: demo.dir.path().join("evidence").display().to_string(), ..Default::default() };
    let console = Arc::new(Console::new(
        &demo.catalog,
        geometry,
        demo.storage.clone(),
        demo.exit.clone(),
        &config,
        clock.clone(),
    ));
    let mut state = demo.state();
    state.console = Some(console.clone());
    Shop { router: app(state), demo, console, clock }
}

impl Shop {
    pub async fn staff(&self, username: &str, role: Role) {
        add_staff(&*self.demo.storage, username, role, PASSWORD, "test", walkout::now_ms()).await.unwrap();
    }

    /// A shopper shops (cans sure, water unsure), the evidence of the water
    /// pick is kept, and the exit sends the visit to review.
    pub async fn flagged_visit(&self, email: &str, name: &str) -> Flagged {
        self.flagged_visit_at(email, name, walkout::now_ms() - 6 * 60_000).await
    }

    /// [`Shop::flagged_visit`] entering at `start`: picks 2 and 4 minutes
    /// later, out through the exit after 6.
    pub async fn flagged_visit_at(&self, email: &str, name: &str, start: i64) -> Flagged {
        let d = &self.demo;
        let (_, visit) = d.shopper_enters_at(email, name, start).await;
        d.event_at(&visit, 0, (CartEventKind::Pick, "DM-0018", 2), 0.98, start + 120_000).await;
        let water = d.event_at(&visit, 1, (CartEventKind::Pick, "DM-0002", 1), 0.55, start + 240_000).await;
        self.keep_evidence_at(&visit, &water, start + 240_000).await;
        let case = match d.exit.exit(&visit, start + 360_000).await.unwrap() {
            ExitOutcome::Review { case, .. } => case,
            other => panic!("expected review, got {other:?}"),
        };
        Flagged { visit, case, water_event: water }
    }

    /// What the live pipeline keeps for a flagged event: a hand crop, the plate's trace, the candidates.
    pub async fn keep_evidence(&self, visit: &VisitId, event: &str) {
        self.keep_evidence_at(visit, event, walkout::now_ms()).await
    }

    /// [`Shop::keep_evidence`] for an event at `at`.
    pub async fn keep_evidence_at(&self, visit: &VisitId, event: &str, at: i64) {
        let store = &self.console.evidence;
        let (frame, _) = frame();
        let view = View {
            camera: CameraId::from("cam-1"),
            // Camera 1's still: the shopper's right hand, and his whole track box.
            hand: PixelBox::new(392, 136, 418, 162),
            track: Some(PixelBox::new(308, 0, 422, 240)),
        };
        store.keep_snapshot(visit, event, at, &frame, &view).await.unwrap();
        let plate: PlateId = "2.3.4".parse().unwrap();
        // 60 Hz for 3 s either side: a bottle of 1,560 g leaves a plate holding four.
        let samples: Vec<(i64, f64)> = (-180..180)
            .map(|i: i64| {
                let grams = if i < 0 { 6_240.0 } else { 4_680.0 } + 1.5 * ((i as f64) * 0.7).sin();
                (at + i * 1000 / 60, grams)
            })
            .collect();
        store.keep_weight_trace(visit, event, &plate, at, &samples).await.unwrap();
        let candidate = |sku: &str, name: &str, p: f64| Candidate { sku: Sku::from(sku), name: name.into(), qty: 1, p };
        let candidates = [
            candidate("DM-0002", "Sparkling mineral water 1.5 l", 0.55),
            candidate("DM-0003", "Medium sparkling mineral water 1.5 l", 0.44),
        ];
        store.keep_candidates(visit, event, at, &candidates).await.unwrap();
    }
}

/// An answer, its body as text.
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// The first hidden `csrf` field of the page.
    pub fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
        self.body[at..].split('"').next().unwrap().to_owned()
    }
}

/// `application/x-www-form-urlencoded`.
pub fn form_encode(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                b' ' => "+".into(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

/// A browser-like client over `oneshot`: it keeps the cookies it is given.
pub struct Client {
    router: axum::Router,
    pub cookies: BTreeMap<String, String>,
}

impl Client {
    pub fn new(router: &axum::Router) -> Self {
        Self { router: router.clone(), cookies: BTreeMap::new() }
    }

    async fn send(&mut self, req: axum::http::request::Builder, body: Body) -> Answer {
        let cookie = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let req = if cookie.is_empty() { req } else { req.header("cookie", cookie) };
        let response = self.router.clone().oneshot(req.body(body).unwrap()).await.unwrap();
        let (parts, body) = response.into_parts();
        for set in parts.headers.get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let (name, value) = set.split(';').next().unwrap().split_once('=').unwrap();
            if set.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let bytes = body.collect().await.unwrap().to_bytes();
        Answer { status: parts.status, headers: parts.headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        self.send(Request::get(path), Body::empty()).await
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let req = Request::post(path).header("content-type", "application/x-www-form-urlencoded");
        self.send(req, Body::from(form_encode(fields))).await
    }

    /// Logs in through the login form; returns the answer to the form.
    pub async fn log_in(&mut self, username: &str, password: &str) -> Answer {
        let form = self.get("/console/login").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        let csrf = form.csrf();
        self.post(
            "/console/login",
            &[("username", username), ("password", password), ("csrf", &csrf), ("next", "/console/")],
        )
        .await
    }
}
