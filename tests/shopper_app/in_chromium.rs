//! The shopper app in real headless Chromium: one browser, one page, the
//! whole journey (see the crate's header).

use super::fixture::{Served, Store, charge, line_of, open_store, serve, shop};
use super::support::browser::{Browser, Page};
use super::support::http::call;
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use walkout::db::{PushSubscription, Storage};
use walkout::ids::{DeviceId, ShopperId, VisitId};

const WAIT: Duration = Duration::from_secs(90);

/// A JavaScript string literal.
fn js(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

async fn click(page: &Page<'_>, selector: &str) {
    let found = page.wait_for(selector, &format!("document.querySelector({})", js(selector)), WAIT).await;
    found.unwrap_or_else(|e| panic!("{e}"));
    page.eval(&format!("document.querySelector({}).click()", js(selector))).await.unwrap();
}

/// Fills a form's fields by name and submits it.
async fn submit(page: &Page<'_>, form: &str, fields: Value) {
    page.wait_for(form, &format!("document.querySelector({})", js(form)), WAIT).await.unwrap_or_else(|e| panic!("{e}"));
    let script = format!(
        "(() => {{ const f = document.querySelector({}); for (const [k, v] of Object.entries({fields})) f.elements[k].value = v; f.requestSubmit(); return true; }})()",
        js(form)
    );
    page.eval(&script).await.unwrap();
}

/// The text of the first element matching `selector` once it contains `needle`.
async fn text_with(page: &Page<'_>, selector: &str, needle: &str) -> String {
    let script = format!(
        "(() => {{ const t = document.querySelector({})?.textContent ?? ''; return t.includes({}) ? t : null; }})()",
        js(selector),
        js(needle)
    );
    let found = page.wait_for(&format!("{selector} containing {needle}"), &script, WAIT).await;
    found.unwrap_or_else(|e| panic!("{e}")).as_str().unwrap().to_owned()
}

/// Every QR code in a PNG, as text.
fn decode_qr(png: &[u8]) -> Vec<String> {
    let image = image::load_from_memory(png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    prepared.detect_grids().iter().filter_map(|g| g.decode().ok().map(|(_, text)| text)).collect()
}

/// Hides a passing message, so a screenshot shows the page under it.
async fn quiet(page: &Page<'_>) {
    page.eval("document.getElementById('toast').hidden = true").await.unwrap();
}

fn keep_screenshot(name: &str, png: &[u8]) {
    if std::env::var("WALKOUT_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots").join(name);
        std::fs::write(&path, png).unwrap();
        println!("wrote {}", path.display());
    }
}

/// The symbol as an image, `scale` pixels a module, with the quiet zone.
fn render(size: usize, dark: &str, scale: usize) -> image::GrayImage {
    let side = (size + 8) * scale;
    let bits = dark.as_bytes();
    image::GrayImage::from_fn(side as u32, side as u32, |x, y| {
        let (mx, my) = ((x as usize / scale).wrapping_sub(4), (y as usize / scale).wrapping_sub(4));
        let on = mx < size && my < size && bits[my * size + mx] == b'1';
        image::Luma([if on { 0 } else { 255 }])
    })
}

/// The app's encoder, at sizes from version 1 to 40, decodes back with rqrr
/// (an independent decoder) at error correction level M, in the smallest
/// version the standard's capacity table allows; one byte more than version
/// 40 holds is refused.
async fn the_encoder_round_trips(page: &Page<'_>) {
    let alphabet: Vec<char> = "ABCxyz0189-_.{}\":,".chars().collect();
    let text = |n: usize| (0..n).map(|i| alphabet[(i * 7 + n) % alphabet.len()]).collect::<String>();
    // (bytes, version): the last byte count of a version at level M, and one more.
    let cases = [(14, 1), (15, 2), (180, 9), (181, 10), (331, 13), (600, 19), (1_370, 30), (2_331, 40)];
    let mut texts: Vec<String> = cases.iter().map(|(n, _)| text(*n)).collect();
    texts.push("Grüße, 東京 🛒 wo1.".into());
    let script = format!(
        "import('/app/js/qr.js').then(({{ encodeQr }}) => {{
            const out = {}.map((t) => {{ const q = encodeQr(t); return {{ version: q.version, size: q.size, dark: Array.from(q.dark).join('') }}; }});
            let overflow = null;
            try {{ encodeQr('x'.repeat(2332)); }} catch (e) {{ overflow = e.message; }}
            return {{ out, overflow }};
        }})",
        serde_json::to_string(&texts).unwrap()
    );
    let result = page.eval(&script).await.unwrap();
    for (i, text) in texts.iter().enumerate() {
        let q = &result["out"][i];
        let size = q["size"].as_u64().unwrap() as usize;
        let mut prepared = rqrr::PreparedImage::prepare(render(size, q["dark"].as_str().unwrap(), 3));
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1, "text {i}: {} bytes", text.len());
        let mut bytes = Vec::new();
        let meta = grids[0].decode_to(&mut bytes).unwrap_or_else(|e| panic!("text {i}, {} bytes: {e:?}", text.len()));
        assert_eq!(bytes, text.as_bytes(), "text {i}");
        assert_eq!((meta.ecc_level, meta.version.0), (0, q["version"].as_u64().unwrap() as usize), "level M");
        if let Some((_, version)) = cases.get(i) {
            assert_eq!(q["version"], *version, "{} bytes", text.len());
        }
    }
    assert_eq!(result["overflow"], "2332 bytes do not fit in a QR code");
}

/// Sign-up, a sandbox test card and the phone's key, all through the app's pages.
async fn sign_up_in_the_app(page: &Page<'_>, store: &Store, origin: &str) -> (ShopperId, DeviceId) {
    page.goto(&format!("{origin}/app/")).await.unwrap();
    click(page, "#go-signup").await;
    let account = json!({"display_name": "Ana", "email": "ana@example.com", "password": "a long enough password"});
    submit(page, "#signup-form", account).await;
    submit(page, "#card-form", json!({})).await; // the first test card, tok_visa, is chosen
    click(page, "#device-form button[type=submit]").await;
    page.wait_for("the entry code", "document.querySelector('#entry-qr')?.width > 0", WAIT).await.unwrap();

    let shopper = store.storage.shopper_by_email("ana@example.com").await.unwrap().expect("signed up").id;
    let cards = store.storage.list_payment_methods(&shopper).await.unwrap();
    assert_eq!(
        cards.iter().map(|c| (c.provider_token.as_str(), c.last4.as_str())).collect::<Vec<_>>(),
        [("tok_visa", "4242")]
    );
    let key = page
        .eval(
            "import('/app/js/device.js').then(async (m) => { const d = await m.loadDevice(); const k = d.keys.privateKey;
               const exported = await crypto.subtle.exportKey('pkcs8', k).then(() => 'exported', (e) => e.name);
               return { shopper: d.shopperId, device: d.deviceId, algorithm: k.algorithm.name, extractable: k.extractable, exported }; })",
        )
        .await
        .unwrap();
    assert_eq!(key["shopper"], shopper.as_str());
    assert_eq!(
        (&key["algorithm"], &key["extractable"], &key["exported"]),
        (&json!("Ed25519"), &json!(false), &json!("InvalidAccessError"))
    );
    let device = DeviceId(key["device"].as_str().unwrap().to_owned());
    assert_eq!(store.storage.get_device(&device).await.unwrap().expect("registered").shopper_id, shopper);
    (shopper, device)
}

/// Reads the entry code off a screenshot and checks it is a genuine token.
async fn read_entry_code(page: &Page<'_>, store: &Store, shopper: &ShopperId, device: &DeviceId) -> (String, Vec<u8>) {
    page.wait_for("the entry code", "document.querySelector('#entry-qr')?.width > 0", WAIT).await.unwrap();
    let png = page.screenshot().await.unwrap();
    let codes = decode_qr(&png);
    assert_eq!(codes.len(), 1, "one QR code in the screenshot");
    let token = codes[0].clone();
    let key = store.storage.get_device(device).await.unwrap().unwrap().public_key;
    let now = walkout::now_ms() / 1000;
    let claims = walkout::visit::token::parse(&token).unwrap().verify(&key, now, 5).expect("signed by the phone's key");
    assert_eq!((&claims.account, &claims.device, claims.exp - claims.iat), (shopper, device, 30));
    (token, png)
}

/// The code opens the gate for the party (the holder and one guest), once.
async fn the_entry_code_opens_the_gate(
    page: &Page<'_>,
    store: &Store,
    shopper: &ShopperId,
    device: &DeviceId,
) -> VisitId {
    click(page, "#guest-more").await;
    text_with(page, "#party", "You + 1 guest").await;
    page.wait_for("a code for two", "document.querySelector('#entry-qr').dataset.guests === '1'", WAIT).await.unwrap();
    quiet(page).await;
    let (token, png) = read_entry_code(page, store, shopper, device).await;
    assert_eq!(walkout::visit::token::parse(&token).unwrap().claims.guests, 1);
    keep_screenshot("shopper-qr.png", &png);
    let (status, admitted) = call(&store.router, "POST", "/gates/north/scan", None, json!({"token": token})).await;
    assert_eq!((status, admitted["party_size"].as_i64()), (StatusCode::CREATED, Some(2)), "{admitted}");
    let (status, again) = call(&store.router, "POST", "/gates/north/scan", None, json!({"token": token})).await;
    assert_eq!((status, again["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("token_replayed")));
    VisitId(admitted["visit_id"].as_str().unwrap().to_owned())
}

/// Charges the visit; the real outbox pushes the receipt to the shopper's
/// push service (local, holding the subscription's keys), which decrypts
/// it: that payload is what a push service hands the service worker.
async fn charge_and_push(store: &Store, shopper: &ShopperId, visit: &VisitId) -> (String, Value) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let browser_key = p256::SecretKey::from_slice(&rand::random::<[u8; 32]>()).unwrap();
    let auth: [u8; 16] = rand::random();
    let subscription = PushSubscription {
        endpoint: store.push_url.clone(),
        shopper_id: shopper.clone(),
        p256dh: b64.encode(p256::Sec1Point::from(&browser_key.public_key()).as_bytes()),
        auth: b64.encode(auth),
        created_at: 1,
    };
    store.storage.save_push_subscription(&subscription).await.unwrap();
    shop(store, visit).await;
    let (receipt, document) = charge(store, visit).await;
    let report = store.worker.run_once(walkout::now_ms()).await.unwrap();
    assert_eq!(report.handled(), 2, "the e-mail and the push: {report:?}");
    let body = store.pushes.lock().unwrap().pop().expect("a push was sent");
    let plain = walkout::notify::ece::decrypt(&body, &browser_key, &auth).unwrap();
    let payload: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(payload["total"], document.cart.total_gross().to_string());
    assert_eq!(payload["url"], format!("/app/receipts/{receipt}"));
    (receipt, payload)
}

/// Delivers the payload to the page's service worker through DevTools, as a
/// push service would; the worker shows a notification and tells the page.
async fn the_push_becomes_a_notification(page: &Page<'_>, origin: &str, payload: &Value) -> Value {
    let grant = json!({"permissions": ["notifications"], "origin": origin});
    page.browser.call(None, "Browser.grantPermissions", grant).await.unwrap();
    page.wait_for("the service worker", "navigator.serviceWorker.controller !== null", WAIT).await.unwrap();
    page.call("ServiceWorker.enable", json!({})).await.unwrap();
    let scope = format!("{origin}/app/");
    let registered = page
        .browser
        .wait_event(
            |e| {
                e["method"] == "ServiceWorker.workerRegistrationUpdated"
                    && e["params"]["registrations"]
                        .as_array()
                        .is_some_and(|r| r.iter().any(|r| r["scopeURL"] == scope.as_str() && r["isDeleted"] == false))
            },
            WAIT,
        )
        .await
        .unwrap();
    let registrations = registered["params"]["registrations"].as_array().unwrap();
    let id = registrations.iter().find(|r| r["scopeURL"] == scope.as_str()).unwrap()["registrationId"].clone();
    let push = json!({"origin": origin, "registrationId": id, "data": payload.to_string()});
    page.call("ServiceWorker.deliverPushMessage", push).await.unwrap();
    let shown = page
        .wait_for(
            "a notification",
            "navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((ns) =>
               ns.length ? ns.map((n) => ({ title: n.title, body: n.body, data: n.data })) : null)",
            WAIT,
        )
        .await
        .unwrap();
    text_with(page, "#toast", payload["body"].as_str().unwrap()).await;
    shown[0].clone()
}

/// Opening the notification's page shows the receipt with the pushed total.
async fn the_receipt_page_shows_the_total(page: &Page<'_>, origin: &str, url: &str, total: &str) {
    page.goto(&format!("{origin}{url}")).await.unwrap();
    let shown = text_with(page, "#receipt-total", total).await;
    assert!(shown.starts_with("Total"), "{shown}");
    for legal in ["Walkout Demo Market", "VAT no.", "Receipt no.", "VISA •••• 4242", "VAT rate"] {
        text_with(page, "article.receipt", legal).await;
    }
    quiet(page).await;
    keep_screenshot("shopper-receipt.png", &page.screenshot().await.unwrap());
}

/// Chromium's own checks, the ones Lighthouse reports: the manifest parses
/// without errors and nothing stands in the way of installing the app.
async fn chromium_finds_it_installable(page: &Page<'_>) {
    page.wait_for("the service worker", "navigator.serviceWorker.controller !== null", WAIT).await.unwrap();
    let manifest = page.call("Page.getAppManifest", json!({})).await.unwrap();
    assert_eq!(manifest["errors"], json!([]), "{manifest}");
    assert!(manifest["url"].as_str().unwrap().ends_with("/app/manifest.webmanifest"));
    let installable = page.call("Page.getInstallabilityErrors", json!({})).await.unwrap();
    assert_eq!(installable["installabilityErrors"], json!([]), "{installable}");
}

/// Disputes a line from the receipt page: `quantity` of it.
async fn dispute(page: &Page<'_>, line: u32, quantity: u32) {
    click(page, &format!("button.dispute[data-line='{line}']")).await;
    let form = format!("#dispute-{line}");
    submit(page, &form, json!({"quantity": quantity.to_string(), "note": "I did not take this"})).await;
}

/// The water (under the auto-refund limit) is refunded at once; the cans
/// go to review; the page says so for each.
async fn disputes_refund_or_open_a_review(page: &Page<'_>, store: &Store, receipt: &str) {
    let row = store.storage.get_receipt(receipt).await.unwrap().unwrap();
    let document: walkout::checkout::Receipt = serde_json::from_str(&row.body_json).unwrap();
    let water = document.cart.lines.iter().find(|l| l.sku.as_str() == "DM-0002").unwrap();
    let water_paid = walkout::money::Money::from_minor(water.gross_minor, document.cart.currency);
    dispute(page, water.line_no, 1).await;
    text_with(page, ".outcome.refunded", &format!("refunded {water_paid}")).await;
    let refunds: Vec<_> = store
        .sandbox
        .movements(row.visit_id.as_str())
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.kind == "refund")
        .collect();
    assert_eq!(refunds.iter().map(|m| m.amount_minor).collect::<Vec<_>>(), [water.gross_minor]);

    let water_button = format!("document.querySelector(\"button.dispute[data-line='{}']\").hidden", water.line_no);
    assert_eq!(page.eval(&water_button).await.unwrap(), json!(true), "nothing of the water is left to dispute");

    dispute(page, line_of(&document, "DM-0018"), 3).await;
    let review = text_with(page, ".outcome.review", "reviewing").await;
    let case = page.eval("document.querySelector('.outcome.review').dataset.case").await.unwrap();
    let case = walkout::ids::CaseId(case.as_str().expect("the case id is on the page").to_owned());
    assert!(review.contains(&case.as_str()[case.as_str().len() - 8..]), "{review}");
    let case = store.storage.get_review_case(&case).await.unwrap();
    assert_eq!(case.map(|c| (c.visit_id, c.status)), Some((row.visit_id.clone(), "open".to_owned())));
    quiet(page).await;
    page.eval("document.getElementById('disputes').scrollIntoView({ block: 'end' })").await.unwrap();
    keep_screenshot("shopper-dispute.png", &page.screenshot().await.unwrap());
}

/// With the server gone, the app opens from the service worker's cache,
/// draws a code that verifies, and shows the receipts it kept.
async fn it_works_offline(
    page: &Page<'_>,
    served: Served,
    store: &Store,
    ids: (&ShopperId, &DeviceId),
    receipt: &str,
    total: &str,
) {
    let origin = served.origin.clone();
    page.goto(&format!("{origin}/app/receipts")).await.unwrap();
    text_with(page, ".receipt-list", total).await;
    let kept = format!(
        "caches.open('walkout-api').then((c) => c.match({})).then((r) => !!r)",
        js(&format!("/api/v1/receipts/{receipt}"))
    );
    page.wait_for("the receipt kept for offline use", &kept, WAIT).await.unwrap();
    served.stop().await;
    let address = origin.trim_start_matches("http://");
    assert!(tokio::net::TcpStream::connect(address).await.is_err(), "nothing answers at {address} any more");

    page.goto(&format!("{origin}/app/")).await.unwrap();
    read_entry_code(page, store, ids.0, ids.1).await;
    page.goto(&format!("{origin}/app/receipts")).await.unwrap();
    text_with(page, ".offline", "Offline").await;
    text_with(page, ".receipt-list", total).await;
    page.goto(&format!("{origin}/app/receipts/{receipt}")).await.unwrap();
    text_with(page, "#receipt-total", total).await;
    text_with(page, ".offline", "Offline").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_uses_the_app_in_headless_chromium() {
    let Some(browser) = Browser::launch_or_skip("a_shopper_uses_the_app_in_headless_chromium").await else {
        return;
    };
    let store = open_store("sandbox").await;
    let served = serve(store.router.clone()).await;
    let origin = served.origin.clone();
    let page = browser.new_page().await.unwrap();
    page.phone_viewport().await.unwrap();
    page.goto(&format!("{origin}/app/")).await.unwrap();
    page.wait_for("the app", "document.body.hasAttribute('data-ready')", WAIT).await.unwrap();
    the_encoder_round_trips(&page).await;

    let (shopper, device) = sign_up_in_the_app(&page, &store, &origin).await;
    chromium_finds_it_installable(&page).await;
    let visit = the_entry_code_opens_the_gate(&page, &store, &shopper, &device).await;
    let (receipt, payload) = charge_and_push(&store, &shopper, &visit).await;
    let notification = the_push_becomes_a_notification(&page, &origin, &payload).await;
    assert_eq!((&notification["title"], &notification["body"]), (&payload["title"], &payload["body"]));
    let total = payload["total"].as_str().unwrap();
    assert!(notification["body"].as_str().unwrap().ends_with(total));
    let url = notification["data"]["url"].as_str().unwrap();
    assert_eq!(url, format!("/app/receipts/{receipt}"));
    the_receipt_page_shows_the_total(&page, &origin, url, total).await;
    disputes_refund_or_open_a_review(&page, &store, &receipt).await;
    it_works_offline(&page, served, &store, (&shopper, &device), &receipt, total).await;
}
