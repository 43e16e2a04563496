//! The console over HTTP without a browser (`oneshot`): logins, lockout,
//! sessions, CSRF, roles, and every kind of bad input answered with a page
//! and a 4xx status, never a 500.

use super::shop::{Client, PASSWORD, open_shop};
use axum::http::StatusCode;
use walkout::db::Storage;
use walkout::review::staff::Role;

#[tokio::test]
async fn logging_in_sets_a_secure_cookie_and_keeps_only_its_hash() {
    let shop = open_shop().await;
    shop.staff("rita", Role::Reviewer).await;
    let mut rita = Client::new(&shop.router);
    let first = rita.get("/console/").await;
    assert_eq!((first.status, first.header("location")), (StatusCode::SEE_OTHER, "/console/login?next=/console/"));
    let login = rita.get("/console/login").await;
    assert!(login.header("set-cookie").contains("walkout_login="), "the login form's own token");
    assert!(login.header("content-security-policy").contains("script-src 'self'"));
    let answer = rita.log_in("rita", PASSWORD).await;
    assert_eq!((answer.status, answer.header("location")), (StatusCode::SEE_OTHER, "/console/"));
    let cookie = answer
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("walkout_staff="))
        .unwrap();
    for part in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/console", "Max-Age=28800"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    let token = rita.cookies["walkout_staff"].clone();
    let hash = walkout::review::session::token_hash(&token);
    let stored = shop.demo.storage.staff_session(&hash).await.unwrap().expect("the session is stored by hash");
    assert!(shop.demo.storage.staff_session(&token).await.unwrap().is_none(), "never the token itself");
    let queue = rita.get("/console/").await;
    assert_eq!(queue.status, StatusCode::OK);
    assert!(
        queue.body.contains("Review queue") && queue.body.contains(&stored.csrf_token),
        "the logout form carries the token"
    );
    let log = shop.demo.storage.audit_for_subject("staff:rita").await.unwrap();
    assert_eq!(log.last().unwrap().action, "login");
    // Logging out ends the session on the server.
    let out = rita.post("/console/logout", &[("csrf", &stored.csrf_token)]).await;
    assert_eq!((out.status, out.header("location")), (StatusCode::SEE_OTHER, "/console/login"));
    assert!(shop.demo.storage.staff_session(&hash).await.unwrap().is_none());
}

#[tokio::test]
async fn wrong_passwords_lock_the_account_for_a_while() {
    let shop = open_shop().await;
    shop.staff("rita", Role::Reviewer).await;
    let mut c = Client::new(&shop.router);
    let wrong = c.log_in("rita", "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("Wrong username or password."), "{}", wrong.body);
    let nobody = c.log_in("nobody", PASSWORD).await;
    assert_eq!(nobody.status, StatusCode::UNAUTHORIZED, "an unknown name reads the same");
    for _ in 0..4 {
        c.log_in("rita", "guess").await;
    }
    let locked = c.log_in("rita", PASSWORD).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "locked even with the right password");
    assert!(locked.body.contains("locked until"), "{}", locked.body);
    let actions: Vec<String> =
        shop.demo.storage.audit_for_subject("staff:rita").await.unwrap().into_iter().map(|e| e.action).collect();
    assert!(
        actions.contains(&"login_locked".to_owned()) && actions.contains(&"login_refused_locked".to_owned()),
        "{actions:?}"
    );
    shop.clock.advance(15 * 60_000 + 1);
    assert_eq!(c.log_in("rita", PASSWORD).await.status, StatusCode::SEE_OTHER, "the lock ends");
}

#[tokio::test]
async fn a_login_form_without_its_token_and_an_expired_session_are_refused() {
    let shop = open_shop().await;
    shop.staff("rita", Role::Reviewer).await;
    let mut c = Client::new(&shop.router);
    c.get("/console/login").await;
    let forged = c.post("/console/login", &[("username", "rita"), ("password", PASSWORD), ("csrf", "guessed")]).await;
    assert_eq!((forged.status, forged.header("x-error-code")), (StatusCode::FORBIDDEN, "csrf_rejected"));
    assert_eq!(c.log_in("rita", PASSWORD).await.status, StatusCode::SEE_OTHER);
    shop.clock.advance(8 * 3_600_000 + 1);
    let expired = c.get("/console/").await;
    assert_eq!((expired.status, expired.header("x-error-code")), (StatusCode::UNAUTHORIZED, "session_expired"));
    assert!(expired.body.contains("Your session has ended") && expired.body.contains("/console/login"));
    assert!(!c.cookies.contains_key("walkout_staff"), "the cookie is cleared");
    let mut stranger = Client::new(&shop.router);
    stranger.cookies.insert("walkout_staff".into(), "made-up".into());
    let posted = stranger.post("/console/logout", &[("csrf", "x")]).await;
    assert_eq!(posted.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_case_requests_get_pages_with_4xx_never_500() {
    let shop = open_shop().await;
    shop.staff("rita", Role::Reviewer).await;
    shop.staff("sam", Role::Reviewer).await;
    let flagged = shop.flagged_visit("ana@example.com", "Ana").await;
    let mut rita = Client::new(&shop.router);
    rita.log_in("rita", PASSWORD).await;
    let unknown = rita.get("/console/cases/case-nope").await;
    assert_eq!((unknown.status, unknown.header("x-error-code")), (StatusCode::NOT_FOUND, "not_found"));
    assert!(unknown.body.contains("Review case case-nope was not found"), "{}", unknown.body);
    assert_eq!(rita.get("/console/no-such-page").await.status, StatusCode::NOT_FOUND);
    let path = format!("/console/cases/{}", flagged.case);
    let page = rita.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = page.csrf();
    let version = page.body.split("name=\"version\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let decide = format!("{path}/decision");
    let fields = |comment: &str, version: &str, csrf: Option<&str>| {
        let mut f = vec![("version", version.to_owned()), ("comment", comment.to_owned())];
        f.extend(
            [("sku.0", "DM-0002"), ("qty.0", "1"), ("sku.1", "DM-0018"), ("qty.1", "2")]
                .map(|(k, v)| (k, v.to_owned())),
        );
        f.extend(csrf.map(|c| ("csrf", c.to_owned())));
        f
    };
    async fn send(c: &mut Client, path: &str, fields: Vec<(&str, String)>) -> super::shop::Answer {
        let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        c.post(path, &refs).await
    }
    let no_token = send(&mut rita, &decide, fields("ok", &version, None)).await;
    assert_eq!((no_token.status, no_token.header("x-error-code")), (StatusCode::FORBIDDEN, "csrf_rejected"));
    let wrong_token = send(&mut rita, &decide, fields("ok", &version, Some("not-it"))).await;
    assert_eq!(wrong_token.status, StatusCode::FORBIDDEN);
    let no_comment = send(&mut rita, &decide, fields("", &version, Some(&csrf))).await;
    assert_eq!(no_comment.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_comment.body.contains("a comment is required"));
    let stale = send(&mut rita, &decide, fields("ok", "1:1", Some(&csrf))).await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(stale.body.contains("The cart changed"), "{}", stale.body);
    let mut sam = Client::new(&shop.router);
    sam.log_in("sam", PASSWORD).await;
    let sams = sam.get(&path).await;
    assert!(sams.body.contains("Being reviewed by <strong>rita</strong>") && !sams.body.contains("id=\"decision\""));
    let refused = send(&mut sam, &decide, fields("mine", &version, Some(&sams.csrf()))).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.body.contains("Being reviewed by rita"), "{}", refused.body);
    assert_eq!(shop.demo.storage.cart_events(&flagged.visit).await.unwrap().len(), 2, "nothing was written");
    let done = send(&mut rita, &decide, fields("checked the camera", &version, Some(&csrf))).await;
    assert_eq!((done.status, done.header("location")), (StatusCode::SEE_OTHER, path.as_str()));
    let twice = send(&mut rita, &decide, fields("checked the camera", &version, Some(&csrf))).await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "a double submit");
    assert!(twice.body.contains("Already decided") && twice.body.contains("approved"), "{}", twice.body);
}

#[tokio::test]
async fn reviewers_cannot_reach_manager_pages_and_managers_get_csv() {
    let shop = open_shop().await;
    shop.staff("rita", Role::Reviewer).await;
    shop.staff("mia", Role::Manager).await;
    let mut rita = Client::new(&shop.router);
    rita.log_in("rita", PASSWORD).await;
    for path in ["/console/office", "/console/office/csv/sales-by-hour.csv"] {
        let refused = rita.get(path).await;
        assert_eq!((refused.status, refused.header("x-error-code")), (StatusCode::FORBIDDEN, "forbidden"), "{path}");
        assert!(refused.body.contains("Managers only"));
    }
    assert!(!rita.get("/console/").await.body.contains("Back office"), "not offered either");
    let mut mia = Client::new(&shop.router);
    mia.log_in("mia", PASSWORD).await;
    let office = mia.get("/console/office").await;
    assert_eq!(office.status, StatusCode::OK);
    assert!(office.body.contains("Revenue by hour") && office.body.contains("<svg"));
    let csv = mia.get("/console/office/csv/sales-by-hour.csv").await;
    assert_eq!((csv.status, csv.header("content-type")), (StatusCode::OK, "text/csv; charset=utf-8"));
    assert!(csv.body.starts_with("hour,units,revenue_minor\n") && csv.body.lines().count() == 25, "{}", csv.body);
    assert!(csv.header("content-disposition").starts_with("attachment; filename=\"walkout-sales-by-hour-"));
    assert_eq!(mia.get("/console/office/csv/secrets.csv").await.status, StatusCode::NOT_FOUND);
    let bad = mia.get("/console/office?from=yesterday").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("YYYY-MM-DD"));
    assert_eq!(mia.get("/console/office?from=2026-05-02&to=2026-05-01").await.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn without_a_console_its_pages_say_so() {
    let demo = super::support::store::DemoStore::open().await;
    let router = walkout::http::app(demo.state());
    let answer = Client::new(&router).get("/console/login").await;
    assert_eq!(
        (answer.status, answer.header("x-error-code")),
        (StatusCode::SERVICE_UNAVAILABLE, "console_unavailable")
    );
}
