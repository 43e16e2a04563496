//! The staff console, end to end. Over HTTP without a browser
//! (`staff_console/http.rs`): logins, lockout, sessions, CSRF, roles and bad
//! input. Dispute cases refunded or rejected (`staff_console/dispute.rs`).
//! Evidence and its retention (`staff_console/evidence.rs`). In real
//! headless Chromium (`staff_console/in_chromium.rs`, one browser): review,
//! correct and charge a flagged visit, a second reviewer refused, a forged
//! form rejected, the live store and the back office. And the
//! `walkout staff add` command.

#[path = "staff_console/dispute.rs"]
mod dispute;
#[path = "staff_console/evidence.rs"]
mod evidence;
#[path = "staff_console/http.rs"]
mod http;
#[path = "staff_console/in_chromium.rs"]
mod in_chromium;
#[path = "staff_console/shop.rs"]
mod shop;
mod support;

use in_chromium::{desktop, serve, submit, text_with};
use serde_json::json;
use shop::open_shop;
use support::browser::Browser;
use walkout::db::{CartEventKind, Storage};
use walkout::review::staff::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_real_chromium() {
    let Some(browser) = Browser::launch_or_skip("the_console_in_real_chromium").await else { return };
    let shop = open_shop().await;
    for (name, role) in [("rita", Role::Reviewer), ("sam", Role::Reviewer), ("mia", Role::Manager)] {
        shop.staff(name, role).await;
    }
    let now = walkout::now_ms();
    a_normal_day(&shop, now).await;
    let ana = shop.flagged_visit_at("ana@example.com", "Ana", now - 25 * 60_000).await;
    let bo = shop.flagged_visit_at("bo@example.com", "Bo", now - 14 * 60_000).await;
    let beer = beer_visit(&shop, now - 9 * 60_000).await;
    shop.demo.storage.claim_review_case(&beer, "sam", now).await.unwrap();
    let origin = serve(shop.router.clone()).await;
    let rita = browser.new_isolated_page().await.unwrap();
    desktop(&rita, 860).await;
    in_chromium::review_and_correct(&shop, &rita, &origin, &ana, &bo).await;
    let sam = browser.new_isolated_page().await.unwrap();
    desktop(&sam, 860).await;
    in_chromium::second_reviewer_is_refused(&rita, &sam, &origin, &bo).await;
    in_chromium::forged_form_is_rejected(&shop, &rita, &origin, &bo).await;
    in_chromium::reviewer_is_kept_off_manager_pages(&rita, &origin).await;

    // Rita decides Bo's visit too: it was the medium sparkling water.
    rita.goto(&format!("{origin}/console/cases/{}", bo.case)).await.unwrap();
    submit(&rita, "form#decision", json!({"product.0": "DM-0003", "comment": "Label on the crop: medium sparkling"}))
        .await;
    text_with(&rita, "#outcome", "Charged").await;
    stock_and_price_changes(&shop).await;

    let mia = browser.new_isolated_page().await.unwrap();
    desktop(&mia, 860).await;
    in_chromium::manager_sees_live_store_and_back_office(&shop, &mia, &origin).await;
}

/// Eight shoppers over the last nine hours, each charged at the exit without review.
async fn a_normal_day(shop: &shop::Shop, now: i64) {
    let baskets: [&[(&str, i64)]; 8] = [
        &[("DM-0001", 1), ("DM-0010", 1)],
        &[("DM-0005", 2)],
        &[("DM-0016", 3), ("DM-0027", 2)],
        &[("DM-0008", 1)],
        &[("DM-0022", 1), ("DM-0013", 1)],
        &[("DM-0004", 2), ("DM-0009", 1)],
        &[("DM-0020", 4)],
        &[("DM-0007", 1), ("DM-0011", 1), ("DM-0027", 1)],
    ];
    for (i, basket) in baskets.iter().enumerate() {
        let start = now - 9 * 3_600_000 + i as i64 * 65 * 60_000;
        let (_, visit) =
            shop.demo.shopper_enters_at(&format!("s{i}@example.com"), &format!("Shopper {i}"), start).await;
        for (n, (sku, units)) in basket.iter().enumerate() {
            shop.demo.event_at(&visit, n, (CartEventKind::Pick, sku, *units), 0.99, start + 60_000).await;
        }
        let charged = shop.demo.exit.exit(&visit, start + 5 * 60_000).await.unwrap();
        assert!(matches!(charged, walkout::visit::exit::ExitOutcome::Charged { .. }), "{charged:?}");
    }
}

/// A shopper takes beer: age-restricted items always go to a person.
async fn beer_visit(shop: &shop::Shop, start: i64) -> walkout::ids::CaseId {
    let (_, visit) = shop.demo.shopper_enters_at("cy@example.com", "Cy", start).await;
    shop.demo.event_at(&visit, 0, (CartEventKind::Pick, "DM-0174", 2), 0.99, start + 60_000).await;
    match shop.demo.exit.exit(&visit, start + 3 * 60_000).await.unwrap() {
        walkout::visit::exit::ExitOutcome::Review { case, .. } => case,
        other => panic!("expected review, got {other:?}"),
    }
}

/// The stock book after a busy morning (one product sold out, cans left on
/// the water shelf) and a price rise on the cans after they were sold.
async fn stock_and_price_changes(shop: &shop::Shop) {
    let s = &shop.demo.storage;
    let store = walkout::ids::StoreId::from(support::store::STORE);
    let plates = |sku: &str| -> Vec<String> {
        let sku = walkout::ids::Sku::from(sku);
        shop.demo.catalog.planogram.iter().filter(|(_, skus)| skus.contains(&sku)).map(|(p, _)| p.to_string()).collect()
    };
    for (sku, units) in [("DM-0001", 6), ("DM-0002", 14), ("DM-0003", 9), ("DM-0018", 20), ("DM-0004", 0)] {
        for plate in plates(sku) {
            s.adjust_stock(&store, &plate, &sku.into(), units, walkout::now_ms()).await.unwrap();
        }
    }
    let water_plate = plates("DM-0002").remove(0);
    s.adjust_stock(&store, &water_plate, &"DM-0018".into(), 1, walkout::now_ms()).await.unwrap();
    let mut cans = s.get_product(&store, &"DM-0018".into()).await.unwrap().unwrap();
    cans.price_minor += 10;
    s.upsert_product(&cans).await.unwrap();
}

#[tokio::test]
async fn staff_add_hashes_a_password_read_from_stdin_or_the_environment() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/staff.db", dir.path().display());
    let run = |args: &[&str], stdin: &str, env: &[(&str, &str)]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_walkout"))
            .env("WALKOUT_DATABASE_URL", &url)
            .envs(env.iter().copied())
            .args(["staff", "add"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, stdout, stderr) = run(&["--username", "rita", "--role", "reviewer"], "a long stdin secret\n", &[]);
    assert!(ok, "{stderr}");
    let made: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!((made["username"].as_str(), made["role"].as_str()), (Some("rita"), Some("reviewer")));
    let (ok, _, stderr) = run(
        &["--username", "mia", "--role", "manager", "--password-env", "MIA_PW"],
        "",
        &[("MIA_PW", "from the environment")],
    );
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = run(&["--username", "rita", "--role", "reviewer"], "another long secret\n", &[]);
    assert!(!ok && stderr.contains("exists already"), "{stderr}");
    let (ok, _, stderr) = run(&["--username", "tim", "--role", "reviewer"], "short\n", &[]);
    assert!(!ok && stderr.contains("at least 12 characters"), "{stderr}");
    let (ok, _, stderr) = run(&["--username", "tim", "--role", "boss"], "a long stdin secret\n", &[]);
    assert!(!ok && stderr.contains("`reviewer` or `manager`"), "{stderr}");
    let (ok, _, stderr) = run(&["--username", "tim", "--role", "reviewer", "--password-env", "UNSET_PW"], "", &[]);
    assert!(!ok && stderr.contains("UNSET_PW is not set"), "{stderr}");
    let storage = walkout::db::SqlStore::connect(&walkout::db::ConnectOptions::new(url.clone())).await.unwrap();
    let rita = storage.staff_by_username("rita").await.unwrap().unwrap();
    assert!(rita.password_hash.starts_with("$argon2id$") && !rita.password_hash.contains("secret"));
    assert!(walkout::app::auth::verify_password("a long stdin secret", &rita.password_hash));
    let mia = storage.staff_by_username("mia").await.unwrap().unwrap();
    assert!(walkout::app::auth::verify_password("from the environment", &mia.password_hash));
    assert_eq!(storage.audit_for_subject("staff:rita").await.unwrap()[0].action, "staff_added");
}
