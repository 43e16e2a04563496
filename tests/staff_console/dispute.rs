//! Dispute cases: a shopper disputes a charged line worth more than the
//! automatic refund limit; a reviewer refunds the disputed units (one
//! provider refund, a credit note the shopper's app lists) or rejects it.

use super::shop::{Client, PASSWORD, Shop, open_shop};
use super::support::http::call;
use axum::http::StatusCode;
use serde_json::{Value, json};
use walkout::db::{CartEventKind, Storage};
use walkout::review::staff::Role;
use walkout::visit::exit::ExitOutcome;

/// A visit charged for three cans (over the limit), disputed by its shopper:
/// the shopper's session, the receipt's disputes path and the case id.
async fn disputed(shop: &Shop, email: &str) -> (String, String, String, walkout::ids::VisitId) {
    let (_, visit) = shop.demo.shopper_enters(email, "Eve").await;
    shop.demo.event(&visit, 0, CartEventKind::Pick, "DM-0018", 3, 0.99).await;
    let ExitOutcome::Charged { receipt, document } = shop.demo.exit.exit(&visit, walkout::now_ms()).await.unwrap()
    else {
        panic!("a confident visit is charged")
    };
    let login = json!({"email": email, "password": "a long enough password"});
    let (status, body) = call(&shop.router, "POST", "/api/v1/sessions", None, login).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let session = body["token"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/receipts/{}/disputes", receipt.id);
    let line = document.cart.lines[0].line_no;
    let dispute = json!({"request_id": "d-1", "line_no": line, "quantity": 2, "note": "I took one can"});
    let (status, outcome) = call(&shop.router, "POST", &path, Some(&session), dispute).await;
    assert_eq!((status, outcome["outcome"].as_str()), (StatusCode::OK, Some("review")), "{outcome}");
    (session, path, outcome["case_id"].as_str().unwrap().to_owned(), visit)
}

async fn decide(shop: &Shop, case: &str, decision: &str) -> super::shop::Answer {
    let mut rita = Client::new(&shop.router);
    rita.log_in("rita", PASSWORD).await;
    let page = rita.get(&format!("/console/cases/{case}")).await;
    assert!(
        page.body.contains("Refund the disputed units") && page.body.contains("dispute: line 1 x2"),
        "{}",
        page.body
    );
    let csrf = page.csrf();
    let fields = [("csrf", csrf.as_str()), ("decision", decision), ("comment", "Camera: one can went back")];
    let answer = rita.post(&format!("/console/cases/{case}/decision"), &fields).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    rita.get(&format!("/console/cases/{case}")).await
}

#[tokio::test]
async fn a_refunded_dispute_pays_back_the_disputed_units_once() {
    let shop = open_shop().await;
    shop.staff("rita", Role::Reviewer).await;
    let (session, path, case, visit) = disputed(&shop, "eve@example.com").await;
    let page = decide(&shop, &case, "refund").await;
    let refunds: Vec<_> =
        shop.demo.sandbox.movements(visit.as_str()).await.unwrap().into_iter().filter(|m| m.kind == "refund").collect();
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    let paid_per_can = shop.demo.price_of(&[("DM-0018", 3)]) as f64 / 3.0;
    assert!((refunds[0].amount_minor as f64 - 2.0 * paid_per_can).abs() <= 1.0, "{refunds:?}");
    let refunded = walkout::money::Money::from_minor(refunds[0].amount_minor, walkout::money::Currency::EUR);
    assert!(page.body.contains(&format!("Refunded {refunded}")), "{}", page.body);
    let (_, list) = call(&shop.router, "GET", &path, Some(&session), Value::Null).await;
    assert_eq!(
        (list[0]["outcome"]["status"].as_str(), list[0]["outcome"]["decision"].as_str()),
        (Some("decided"), Some("refund")),
        "the shopper's app shows the outcome: {list}"
    );
    let receipt = path.split('/').nth(4).unwrap();
    let log = shop.demo.storage.audit_for_subject(&format!("receipt:{receipt}")).await.unwrap();
    assert!(log.iter().any(|e| e.action == "refund" && e.actor == "rita"), "the credit note is on the receipt");
    let mut rita = Client::new(&shop.router);
    rita.log_in("rita", PASSWORD).await;
    let again = rita.get(&format!("/console/cases/{case}")).await;
    let fields = [("csrf", again.csrf()), ("decision", "refund".into()), ("comment", "again".into())];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(rita.post(&format!("/console/cases/{case}/decision"), &fields).await.status, StatusCode::CONFLICT);
    let refunds =
        shop.demo.sandbox.movements(visit.as_str()).await.unwrap().iter().filter(|m| m.kind == "refund").count();
    assert_eq!(refunds, 1, "a second submit refunds nothing");
}

#[tokio::test]
async fn a_rejected_dispute_refunds_nothing() {
    let shop = open_shop().await;
    shop.staff("rita", Role::Reviewer).await;
    let (session, path, case, visit) = disputed(&shop, "fay@example.com").await;
    let page = decide(&shop, &case, "reject").await;
    assert!(page.body.contains("Dispute rejected: nothing refunded"), "{}", page.body);
    assert!(shop.demo.sandbox.movements(visit.as_str()).await.unwrap().iter().all(|m| m.kind != "refund"));
    let (_, list) = call(&shop.router, "GET", &path, Some(&session), Value::Null).await;
    assert_eq!(list[0]["outcome"]["decision"].as_str(), Some("reject"), "{list}");
}
