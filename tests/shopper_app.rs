//! The shopper app. Without a browser: its pages and files as served, the
//! manifest and icons, the app settings, and the disputes list. In real
//! headless Chromium (one browser for the file), against the real router on
//! 127.0.0.1:0 with SQLite and the sandbox provider: the QR encoder decodes
//! back at every size; a shopper signs up, adds a test card and registers
//! the phone; the QR the page draws is read from a screenshot and opens the
//! gate once; the exit charges, the real outbox pushes, the payload reaches
//! the service worker through DevTools and becomes a notification, and the
//! receipt page shows the total; disputes refund or open a review; and with
//! the server gone the app still opens, draws a valid code and shows the
//! receipts. `WALKOUT_UPDATE_SCREENSHOTS=1` rewrites `docs/screenshots/shopper-*.png`.

#[path = "shopper_app/fixture.rs"]
mod fixture;
#[path = "shopper_app/in_chromium.rs"]
mod in_chromium;
mod support;

use axum::http::StatusCode;
use fixture::{api_shopper, charge, get, line_of, open_store, shop};
use serde_json::{Value, json};
use support::http::call;
use walkout::db::Storage;
use walkout::ids::{DeviceId, VisitId};

#[tokio::test]
async fn every_app_page_gets_the_shell_and_every_file_its_type() {
    let store = open_store("sandbox").await;
    let r = &store.router;
    let (status, headers, _) = get(r, "/app", &[]).await;
    assert_eq!((status, headers["location"].to_str().unwrap()), (StatusCode::PERMANENT_REDIRECT, "/app/"));
    let (status, headers, shell) = get(r, "/app/", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(headers["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
    let shell = String::from_utf8(shell).unwrap();
    for page in ["/app/entry", "/app/receipts/r-7", "/app/account"] {
        let (status, _, body) = get(r, page, &[]).await;
        assert_eq!((status, body), (StatusCode::OK, shell.clone().into_bytes()), "{page}");
    }
    // Every file the shell and the manifest name is served, with its type.
    let (_, _, manifest) = get(r, "/app/manifest.webmanifest", &[]).await;
    let manifest = String::from_utf8(manifest).unwrap();
    let mut named = 0;
    for text in [&shell, &manifest] {
        for url in text.split('"').filter(|s| s.starts_with("/app/") && s.contains('.')) {
            let (status, headers, body) = get(r, url, &[]).await;
            let kind = headers["content-type"].to_str().unwrap().to_owned();
            assert_eq!(status, StatusCode::OK, "{url}");
            assert!(!body.is_empty() && kind != "application/octet-stream", "{url}: {kind}");
            named += 1;
        }
    }
    assert!(named >= 7, "{named} files named");
    let (status, headers, _) = get(r, "/app/js/qr.js", &[]).await;
    assert_eq!((status, headers["content-type"].to_str().unwrap()), (StatusCode::OK, "text/javascript; charset=utf-8"));
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let (status, _, body) = get(r, "/app/js/qr.js", &[("if-none-match", &etag)]).await;
    assert_eq!((status, body.len()), (StatusCode::NOT_MODIFIED, 0));
    assert_eq!(get(r, "/app/js/missing.js", &[]).await.0, StatusCode::NOT_FOUND);
    let (_, headers, sw) = get(r, "/app/sw.js", &[]).await;
    let sw = String::from_utf8(sw).unwrap();
    assert_eq!(headers["cache-control"], "no-cache");
    assert!(sw.contains(&format!("const VERSION = {etag};")) && sw.contains("\"/app/js/entry.js\""), "{sw:.300}");
}

#[tokio::test]
async fn the_manifest_and_icons_make_the_app_installable() {
    let store = open_store("sandbox").await;
    let (status, headers, body) = get(&store.router, "/app/manifest.webmanifest", &[]).await;
    assert_eq!((status, headers["content-type"].to_str().unwrap()), (StatusCode::OK, "application/manifest+json"));
    let m: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (m["start_url"].as_str(), m["scope"].as_str(), m["display"].as_str()),
        (Some("/app/"), Some("/app/"), Some("standalone"))
    );
    assert!(
        m["name"].as_str().is_some_and(|n| !n.is_empty()) && m["short_name"].as_str().is_some_and(|n| n.len() <= 12)
    );
    let mut kinds = Vec::new();
    for icon in m["icons"].as_array().unwrap() {
        let (status, _, png) = get(&store.router, icon["src"].as_str().unwrap(), &[]).await;
        assert_eq!(status, StatusCode::OK);
        let image = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap();
        let side: u32 = icon["sizes"].as_str().unwrap().split('x').next().unwrap().parse().unwrap();
        assert_eq!((image.width(), image.height()), (side, side), "{icon}");
        kinds.push((side, icon["purpose"].as_str().unwrap().to_owned()));
    }
    for needed in [(192, "any"), (512, "any"), (512, "maskable")] {
        assert!(kinds.contains(&(needed.0, needed.1.to_owned())), "{needed:?} missing from {kinds:?}");
    }
}

#[tokio::test]
async fn test_cards_are_offered_only_by_the_sandbox() {
    let (_, _, body) = get(&open_store("sandbox").await.router, "/app/config.json", &[]).await;
    let sandbox: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(sandbox["payment_provider"], "sandbox");
    assert_eq!(
        sandbox["test_cards"][0],
        json!({"token": "tok_visa", "brand": "visa", "last4": "4242", "behaviour": "approved"})
    );
    let (_, _, body) = get(&open_store("stripe").await.router, "/app/config.json", &[]).await;
    let stripe: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (stripe["payment_provider"].as_str(), stripe["test_cards"].as_array().map(Vec::len)),
        (Some("stripe"), Some(0))
    );
}

#[tokio::test]
async fn the_disputes_list_shows_refunds_and_review_decisions() {
    let store = open_store("sandbox").await;
    let (session, shopper) = api_shopper(&store, "ana@example.com").await;
    let key = walkout::visit::client::DeviceKey::generate();
    let device = json!({"public_key": key.public_key_b64(), "label": "phone"});
    let (_, device) = call(&store.router, "POST", "/api/v1/devices", Some(&session), device).await;
    let device = DeviceId(device["device_id"].as_str().unwrap().to_owned());
    let token = key.draw(&shopper, &device, walkout::now_ms() / 1000, 0);
    let (_, admitted) = call(&store.router, "POST", "/gates/north/scan", None, json!({"token": token})).await;
    let visit = VisitId(admitted["visit_id"].as_str().unwrap().to_owned());
    shop(&store, &visit).await;
    let (receipt, document) = charge(&store, &visit).await;
    let path = format!("/api/v1/receipts/{receipt}/disputes");
    assert_eq!(call(&store.router, "GET", &path, Some(&session), Value::Null).await, (StatusCode::OK, json!([])));
    for (id, sku, quantity) in [("d-1", "DM-0002", 1), ("d-2", "DM-0018", 3)] {
        let dispute = json!({"request_id": id, "line_no": line_of(&document, sku), "quantity": quantity});
        assert_eq!(call(&store.router, "POST", &path, Some(&session), dispute).await.0, StatusCode::OK);
    }
    let (_, list) = call(&store.router, "GET", &path, Some(&session), Value::Null).await;
    let water = document.cart.lines.iter().find(|l| l.sku.as_str() == "DM-0002").unwrap().gross_minor;
    assert_eq!(list[0]["outcome"], json!({"outcome": "refunded", "amount_minor": water, "currency": "EUR"}));
    assert_eq!(
        (list[1]["outcome"]["outcome"].as_str(), list[1]["outcome"]["status"].as_str()),
        (Some("review"), Some("open"))
    );
    assert_eq!(
        (list[1]["line_no"].as_u64(), list[1]["quantity"].as_u64()),
        (Some(line_of(&document, "DM-0018").into()), Some(3))
    );

    let case = walkout::ids::CaseId(list[1]["outcome"]["case_id"].as_str().unwrap().to_owned());
    store.storage.claim_review_case(&case, "staff-1", walkout::now_ms()).await.unwrap();
    store
        .storage
        .decide_review_case(&case, "staff-1", "refund", "no cans on the shelf video", walkout::now_ms())
        .await
        .unwrap();
    let (_, list) = call(&store.router, "GET", &path, Some(&session), Value::Null).await;
    assert_eq!(
        (
            list[1]["outcome"]["status"].as_str(),
            list[1]["outcome"]["decision"].as_str(),
            list[1]["outcome"]["comment"].as_str()
        ),
        (Some("decided"), Some("refund"), Some("no cans on the shelf video"))
    );
    let (other, _) = api_shopper(&store, "bo@example.com").await;
    assert_eq!(call(&store.router, "GET", &path, Some(&other), Value::Null).await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(&store.router, "GET", &path, None, Value::Null).await.0, StatusCode::UNAUTHORIZED);
}
