//! The console in real headless Chromium against the real router on
//! 127.0.0.1:0: a reviewer logs in, opens a flagged case, sees the hand crop
//! and the weight chart, corrects a line and decides; the visit is charged
//! the corrected amount and the receipt goes out by e-mail and push. A
//! second reviewer is refused the case, a reviewer is kept off the back
//! office, a form forged on another site is rejected, and a manager watches
//! the live store and reads the back office. `WALKOUT_UPDATE_SCREENSHOTS=1`
//! rewrites `docs/screenshots/console-*.png`.

use super::shop::{Flagged, PASSWORD, Shop};
use super::support::browser::Page;
use serde_json::{Value, json};
use std::time::Duration;
use walkout::db::{CartEventKind, Storage};
use walkout::ids::TrackId;
use walkout::vision::tracker::TrackState;

pub const WAIT: Duration = Duration::from_secs(90);

pub fn js(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

/// The router on a socket until the test ends; returns its origin.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    origin
}

/// A desktop viewport `height` CSS pixels tall.
pub async fn desktop(page: &Page<'_>, height: u32) {
    let metrics = json!({"width": 1280, "height": height, "deviceScaleFactor": 1, "mobile": false});
    page.call("Emulation.setDeviceMetricsOverride", metrics).await.unwrap();
}

pub async fn wait(page: &Page<'_>, what: &str, expression: &str) -> Value {
    page.wait_for(what, expression, WAIT).await.unwrap_or_else(|e| panic!("{e}"))
}

/// The text of `selector` once it contains `needle`.
pub async fn text_with(page: &Page<'_>, selector: &str, needle: &str) -> String {
    let script = format!(
        "(() => {{ const t = document.querySelector({})?.textContent ?? ''; return t.includes({}) ? t : null; }})()",
        js(selector),
        js(needle)
    );
    wait(page, &format!("{selector} containing {needle}"), &script).await.as_str().unwrap().to_owned()
}

/// Fills the form's fields by name and submits it.
pub async fn submit(page: &Page<'_>, form: &str, fields: Value) {
    wait(page, form, &format!("document.querySelector({})", js(form))).await;
    let script = format!(
        "(() => {{ window.__leaving = true; const f = document.querySelector({}); for (const [k, v] of Object.entries({fields})) f.elements[k].value = v; f.requestSubmit(); return true; }})()",
        js(form)
    );
    page.eval(&script).await.unwrap();
}

/// The HTTP status of the page now shown.
pub async fn status(page: &Page<'_>) -> u64 {
    page.eval("performance.getEntriesByType('navigation')[0].responseStatus").await.unwrap().as_u64().unwrap()
}

/// A PNG of the page, kept in docs/screenshots when asked to.
pub async fn shot(page: &Page<'_>, name: &str) {
    let png = page.screenshot().await.unwrap();
    let image = image::load_from_memory(&png).unwrap();
    assert_eq!(image.width(), 1280, "{name}");
    if std::env::var("WALKOUT_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots").join(name);
        std::fs::write(&path, png).unwrap();
        println!("wrote {}", path.display());
    }
}

/// Logs in from the console's front door (the login page comes first).
pub async fn log_in(page: &Page<'_>, origin: &str, username: &str) {
    page.goto(&format!("{origin}/console/")).await.unwrap();
    submit(page, "form#login", json!({"username": username, "password": PASSWORD})).await;
    text_with(page, "header .who", username).await;
}

/// Rita opens the flagged case, sees the evidence, says the water was not
/// taken and decides: the visit is charged for the cans alone.
pub async fn review_and_correct(shop: &Shop, page: &Page<'_>, origin: &str, case: &Flagged, other: &Flagged) {
    log_in(page, origin, "rita").await;
    let rows =
        wait(page, "the queue", "[...document.querySelectorAll('#queue tr[data-case]')].map(r => r.dataset.case)")
            .await;
    assert_eq!((&rows[0], &rows[1]), (&json!(case.case.as_str()), &json!(other.case.as_str())), "oldest first: {rows}");
    shot(page, "console-queue.png").await;
    let link = format!("tr[data-case={}] a.button", js(case.case.as_str()));
    page.eval(&format!("window.__leaving = true; document.querySelector({}).click()", js(&link))).await.unwrap();
    wait(page, "the decision form", "!window.__leaving && document.querySelector('form#decision')").await;
    let loaded = "(() => { const i = document.querySelector('img.snapshot'); return i && i.complete && i.naturalWidth > 0 ? [i.naturalWidth, i.naturalHeight] : null; })()";
    let size = wait(page, "the snapshot", loaded).await;
    assert!(size[0].as_u64().unwrap() <= 256, "a crop: {size}");
    wait(page, "the weight chart", "document.querySelectorAll('.trace svg polyline').length === 1").await;
    let candidates = text_with(page, "table.candidates", "Medium sparkling").await;
    assert!(candidates.contains("44 %"), "{candidates}");
    let tall = page.eval("document.documentElement.scrollHeight").await.unwrap().as_u64().unwrap();
    desktop(page, tall.min(1500) as u32).await;
    shot(page, "console-case.png").await;
    desktop(page, 860).await;
    let comment = "Ceiling camera: the bottle of water stayed on the shelf";
    submit(page, "form#decision", json!({"qty.0": "0", "comment": comment})).await;
    let outcome = text_with(page, "#outcome", "Charged").await;
    check_charged(shop, case, &outcome, comment).await;
}

async fn check_charged(shop: &Shop, case: &Flagged, outcome: &str, comment: &str) {
    let s = &shop.demo.storage;
    let expected = shop.demo.price_of(&[("DM-0018", 2)]);
    let visit = s.get_visit(&case.visit).await.unwrap().unwrap();
    assert_eq!(visit.status, walkout::db::VisitStatus::Settled);
    let receipt =
        s.receipts_for_shopper(&visit.shopper_id).await.unwrap().into_iter().find(|r| r.visit_id == visit.id).unwrap();
    assert_eq!(receipt.total_minor, expected, "the corrected cart: two cans, no water");
    assert!(outcome.contains(&format!("receipt no. {}", receipt.receipt_no)), "{outcome}");
    let captured: i64 = shop
        .demo
        .sandbox
        .movements(visit.id.as_str())
        .await
        .unwrap()
        .iter()
        .filter(|m| m.kind == "capture")
        .map(|m| m.amount_minor)
        .sum();
    assert_eq!(captured, expected, "the provider captured the corrected amount");
    let payments = s.payments_for_visit(&visit.id).await.unwrap();
    assert!(
        payments.iter().any(|p| p.operation == "capture" && p.state == "succeeded" && p.amount_minor == expected),
        "{payments:?}"
    );
    let ledger = s.cart_events(&visit.id).await.unwrap();
    let correction = ledger.iter().find(|e| e.kind == CartEventKind::CorrectionRemove).expect("a correcting event");
    assert_eq!((correction.sku.as_str(), correction.quantity, correction.source.as_str()), ("DM-0002", 1, "review"));
    assert!(
        correction.evidence_ref.as_deref().unwrap().contains(comment) && ledger.len() == 3,
        "history kept, one correction added"
    );
    let actions: Vec<String> =
        s.audit_for_subject(&format!("case:{}", case.case)).await.unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(actions, ["review_claimed", "review_decided", "review_charged"]);
    let email = walkout::notify::email_id(&receipt.id);
    assert!(s.get_outbox(&email).await.unwrap().is_some(), "the receipt e-mail is queued");
    let report = shop.demo.worker.run_once(walkout::now_ms()).await.unwrap();
    assert!(report.handled() >= 2, "{report:?}");
    let mails = shop.demo.mailer.sent();
    let mail =
        String::from_utf8_lossy(&mails.iter().find(|(k, _)| *k == email).expect("the e-mail was sent").1).into_owned();
    assert!(mail.contains("ana@example.com") && mail.contains(&format!("no. {}", receipt.receipt_no)), "{mail}");
    assert!(!shop.demo.push.sent().is_empty(), "the push was sent");
}

/// Rita holds the second case; Sam sees who holds it and cannot decide it.
pub async fn second_reviewer_is_refused(rita: &Page<'_>, sam: &Page<'_>, origin: &str, case: &Flagged) {
    rita.goto(&format!("{origin}/console/cases/{}", case.case)).await.unwrap();
    wait(rita, "rita's claim", "document.querySelector('form#decision')").await;
    log_in(sam, origin, "sam").await;
    sam.goto(&format!("{origin}/console/cases/{}", case.case)).await.unwrap();
    text_with(sam, "#claimed-by", "rita").await;
    assert_eq!(sam.eval("document.querySelector('form#decision') === null").await.unwrap(), json!(true));
    let forced = format!(
        "(async () => {{ const b = new URLSearchParams({{csrf: document.querySelector('input[name=csrf]').value, version: '0:0', comment: 'mine'}}); const r = await fetch({}, {{method: 'POST', body: b}}); return [r.status, await r.text()]; }})()",
        js(&format!("/console/cases/{}/decision", case.case))
    );
    let answer = sam.eval(&forced).await.unwrap();
    assert_eq!(answer[0], json!(409), "{answer}");
    assert!(answer[1].as_str().unwrap().contains("Being reviewed by rita"));
}

/// A page on another origin posts a decision form without the token.
pub async fn forged_form_is_rejected(shop: &Shop, rita: &Page<'_>, origin: &str, case: &Flagged) {
    let action = format!("{origin}/console/cases/{}/decision", case.case);
    let page = format!(
        "<!doctype html><form id=f method=post action=\"{action}\"><input name=version value=x><input name=comment value=forged>\
         <input name=sku.0 value=DM-0002><input name=qty.0 value=0></form><script>document.getElementById('f').submit()</script>"
    );
    let evil = axum::Router::new().route("/", axum::routing::get(move || async move { axum::response::Html(page) }));
    let evil = serve(evil).await;
    rita.goto(&format!("{evil}/")).await.unwrap();
    wait(
        rita,
        "the refusal",
        &format!("location.href === {} && document.body.innerText.includes('Form not accepted')", js(&action)),
    )
    .await;
    assert_eq!(status(rita).await, 403);
    let s = &shop.demo.storage;
    assert_eq!(s.get_review_case(&case.case).await.unwrap().unwrap().status, "claimed", "nothing was decided");
    assert_eq!(s.cart_events(&case.visit).await.unwrap().len(), 2, "nothing was written to the ledger");
    let log = s.audit_for_subject("staff:rita").await.unwrap();
    assert!(log.iter().any(|e| e.action == "csrf_rejected"));
}

/// Rita is a reviewer: the back office answers 403 and is not offered.
pub async fn reviewer_is_kept_off_manager_pages(rita: &Page<'_>, origin: &str) {
    rita.goto(&format!("{origin}/console/office")).await.unwrap();
    text_with(rita, "main h1", "Managers only").await;
    assert_eq!(status(rita).await, 403);
    assert_eq!(
        rita.eval("[...document.querySelectorAll('header nav a')].some(a => a.textContent.includes('Back office'))")
            .await
            .unwrap(),
        json!(false)
    );
}

fn track(id: &str, x: f64, y: f64) -> TrackState {
    TrackState { id: TrackId::from(id), x, y, hands: vec![], hand_crops: vec![], conf: 0.9, appearance: None }
}

/// Mia (a manager) watches shoppers move on the live map and reads the back office.
pub async fn manager_sees_live_store_and_back_office(shop: &Shop, mia: &Page<'_>, origin: &str) {
    let live = &shop.console.live;
    let (_, cleo) = shop.demo.shopper_enters("cleo@example.com", "Cleo").await;
    shop.demo.event(&cleo, 0, CartEventKind::Pick, "DM-0001", 1, 0.99).await;
    let (_, dan) = shop.demo.shopper_enters("dan@example.com", "Dan").await;
    shop.demo.event(&dan, 0, CartEventKind::Pick, "DM-0010", 2, 0.97).await;
    shop.demo.event(&dan, 1, CartEventKind::Pick, "DM-0023", 1, 0.99).await;
    live.update_tracks(walkout::now_ms(), &[track("t-1", 2.2, 2.8), track("t-2", 6.0, 3.0)]);
    live.link_track(&TrackId::from("t-1"), &cleo);
    live.link_track(&TrackId::from("t-2"), &dan);
    log_in(mia, origin, "mia").await;
    mia.goto(&format!("{origin}/console/live")).await.unwrap();
    text_with(mia, "#live-status", "live").await;
    live.update_tracks(walkout::now_ms(), &[track("t-1", 4.6, 3.1), track("t-2", 6.5, 5.6), track("t-3", 1.0, 0.6)]);
    live.set_plate_health("2.3.4".parse().unwrap(), Some("no readings for 14 s".into()));
    let (x, y) = ((4.6 - 0.0) * 80.0 + 20.0, (7.0 - 3.1) * 80.0 + 20.0);
    let moved = format!(
        "document.querySelector('g.shopper[data-track=\"t-1\"]')?.getAttribute('transform') === 'translate({x:.1} {y:.1})'"
    );
    wait(mia, "t-1 moved by server-sent events", &moved).await;
    wait(mia, "three shoppers", "document.querySelectorAll('g.shopper').length === 3").await;
    wait(mia, "the degraded plate", "document.getElementById('plate-2.3.4').classList.contains('degraded')").await;
    text_with(mia, "#visits", "Cleo").await;
    text_with(mia, "#degraded", "no readings for 14 s").await;
    shot(mia, "console-live.png").await;
    let day = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap().format("%Y-%m-%d").to_string();
    let now = shop.console.now();
    mia.goto(&format!("{origin}/console/office?from={}&to={}", day(now - 86_400_000), day(now))).await.unwrap();
    let summary = text_with(mia, "#summary", "Out of stock").await;
    assert!(summary.contains("Price discrepancies2"), "both charges of the cans, before their price rose: {summary}");
    text_with(mia, "#price-discrepancies", "DM-0018").await;
    text_with(mia, "#stock", "out of stock").await;
    text_with(mia, "#misplaced", "DM-0018").await;
    text_with(mia, "#review", "wrong product").await;
    let csv = "fetch(document.querySelector('#sales-by-product a.csv').href).then(r => r.text())";
    let csv = mia.eval(csv).await.unwrap();
    assert!(csv.as_str().unwrap().starts_with("sku,name,units,revenue_minor\n"), "{csv}");
    let tall = mia.eval("document.documentElement.scrollHeight").await.unwrap().as_u64().unwrap();
    desktop(mia, tall.min(3600) as u32).await;
    shot(mia, "console-office.png").await;
}
