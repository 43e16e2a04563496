//! The storage conformance cases of the staff console (`crate::review`):
//! staff sessions, the one-transaction decision, evidence rows and the back
//! office's time-range reads. Run by `tests/storage.rs` on both backends.

use std::sync::Arc;
use walkout::db::*;
use walkout::ids::*;

const STORE: &str = "store-r";

fn store_id() -> StoreId {
    StoreId::from(STORE)
}

/// A store, a shopper and an open visit `id` (entered at 2_000).
async fn seed_visit(s: &SqlStore, id: &str) -> VisitId {
    if s.get_store(&store_id()).await.unwrap().is_none() {
        let store = Store {
            id: store_id(),
            name: "Review Market".into(),
            address: "2 Test Street".into(),
            vat_number: "DE000000001".into(),
            currency: "EUR".into(),
            tax_mode: "inclusive".into(),
            created_at: 1_000,
        };
        s.upsert_store(&store).await.unwrap();
        let shopper = Shopper {
            id: ShopperId::from("shopper-r"),
            email: "r@example.com".into(),
            display_name: "R".into(),
            password_hash: "x".into(),
            loyalty_points: 0,
            created_at: 1_000,
        };
        s.create_shopper(&shopper).await.unwrap();
    }
    let visit = Visit {
        id: VisitId::from(id),
        store_id: store_id(),
        shopper_id: ShopperId::from("shopper-r"),
        device_id: None,
        party_size: 1,
        status: VisitStatus::Entered,
        track_id: None,
        entered_at: 2_000,
        exited_at: None,
        settled_at: None,
    };
    s.create_visit(&visit).await.unwrap();
    visit.id
}

async fn seed_staff(s: &SqlStore, username: &str) -> Staff {
    let staff = Staff {
        id: StaffId::from(format!("st-{username}").as_str()),
        username: username.into(),
        password_hash: "$argon2id$...".into(),
        role: "reviewer".into(),
        failed_logins: 0,
        locked_until: None,
        created_at: 1,
    };
    s.create_staff(&staff).await.unwrap();
    staff
}

pub async fn staff_sessions_are_found_by_hash_until_ended(s: Arc<SqlStore>) {
    let rita = seed_staff(&s, "rita").await;
    assert_eq!(s.get_staff(&rita.id).await.unwrap(), Some(rita.clone()));
    assert_eq!(s.get_staff(&StaffId::from("ghost")).await.unwrap(), None);
    let session = StaffSession {
        token_hash: "h-1".into(),
        staff_id: rita.id.clone(),
        csrf_token: "c-1".into(),
        created_at: 10,
        expires_at: 20,
    };
    s.create_staff_session(&session).await.unwrap();
    assert_eq!(
        s.staff_session("h-1").await.unwrap(),
        Some(session.clone()),
        "found even when expired; the console tells"
    );
    match s.create_staff_session(&session).await {
        Err(DbError::Conflict { .. }) => {}
        other => panic!("a repeated token hash must conflict, got {other:?}"),
    }
    let ghost = StaffSession { token_hash: "h-2".into(), staff_id: StaffId::from("ghost"), ..session.clone() };
    assert!(matches!(s.create_staff_session(&ghost).await, Err(DbError::Constraint { .. })), "staff must exist");
    s.delete_staff_session("h-1").await.unwrap();
    assert_eq!(s.staff_session("h-1").await.unwrap(), None);
}

fn correction(visit: &VisitId, id: &str, kind: CartEventKind, quantity: i64) -> NewCartEvent {
    NewCartEvent {
        id: id.into(),
        store_id: store_id(),
        visit_id: Some(visit.clone()),
        kind,
        sku: Sku::from("A"),
        quantity,
        confidence: 1.0,
        source: "review".into(),
        evidence_ref: Some("{\"by\":\"rita\"}".into()),
        shopper_id: None,
        track_id: None,
        at: 50,
    }
}

fn decision(case: &str, staff: &str, corrections: Vec<NewCartEvent>) -> ReviewDecision {
    let audit = |action: &str| NewAudit {
        at: 50,
        actor: staff.into(),
        action: action.into(),
        subject: format!("case:{case}"),
        detail_json: "{}".into(),
    };
    ReviewDecision {
        case_id: CaseId::from(case),
        staff: staff.into(),
        decision: "corrected".into(),
        comment: "one can, not two".into(),
        at: 50,
        corrections,
        audit: vec![audit("review_decided"), audit("review_note")],
    }
}

pub async fn a_decision_writes_the_case_its_corrections_and_audit_at_once(s: Arc<SqlStore>) {
    let visit = seed_visit(&s, "visit-d").await;
    let case = ReviewCase::open(CaseId::from("case-d"), visit.clone(), store_id(), "low_confidence".into(), 10);
    s.open_review_case(&case).await.unwrap();
    let remove = correction(&visit, "case-d:correction:0", CartEventKind::CorrectionRemove, 1);
    assert!(
        matches!(s.decide_review(&decision("case-d", "rita", vec![remove.clone()])).await, Err(DbError::State(_))),
        "an unclaimed case cannot be decided"
    );
    s.claim_review_case(&case.id, "rita", 20).await.unwrap();
    assert!(matches!(s.decide_review(&decision("case-d", "sam", vec![remove.clone()])).await, Err(DbError::State(_))));
    // A correction the ledger refuses (0 units) rolls the whole decision back.
    let bad = correction(&visit, "case-d:correction:9", CartEventKind::CorrectionAdd, 0);
    match s.decide_review(&decision("case-d", "rita", vec![remove.clone(), bad])).await {
        Err(DbError::Constraint { constraint }) => assert_eq!(constraint, "cart_events_quantity_positive"),
        other => panic!("expected the quantity constraint, got {other:?}"),
    }
    assert_eq!(s.get_review_case(&case.id).await.unwrap().unwrap().status, "claimed", "rolled back");
    assert!(s.cart_events(&visit).await.unwrap().is_empty());
    assert!(s.audit_for_subject("case:case-d").await.unwrap().is_empty());
    let add = correction(&visit, "case-d:correction:1", CartEventKind::CorrectionAdd, 2);
    let decided = s.decide_review(&decision("case-d", "rita", vec![remove.clone(), add])).await.unwrap();
    assert_eq!(
        (decided.status.as_str(), decided.decided_by.as_deref(), decided.comment.as_deref()),
        ("decided", Some("rita"), Some("one can, not two"))
    );
    let ledger = s.cart_events(&visit).await.unwrap();
    assert_eq!(
        ledger.iter().map(|e| (e.kind, e.quantity)).collect::<Vec<_>>(),
        [(CartEventKind::CorrectionRemove, 1), (CartEventKind::CorrectionAdd, 2)]
    );
    assert_eq!(ledger[0].source, "review");
    let log = s.audit_for_subject("case:case-d").await.unwrap();
    assert_eq!(log.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["review_decided", "review_note"]);
    // A double submit: refused, and nothing more is written.
    let again = correction(&visit, "case-d:correction:5", CartEventKind::CorrectionAdd, 1);
    assert!(
        matches!(s.decide_review(&decision("case-d", "rita", vec![again])).await, Err(DbError::State(m)) if m.contains("already decided"))
    );
    assert_eq!(s.cart_events(&visit).await.unwrap().len(), 2);
    assert_eq!(s.audit_for_subject("case:case-d").await.unwrap().len(), 2);
    assert!(matches!(s.decide_review(&decision("ghost", "rita", vec![])).await, Err(DbError::NotFound { .. })));
}

fn evidence(id: &str, visit: &VisitId, kind: &str, at: i64, created_at: i64) -> Evidence {
    Evidence {
        id: id.into(),
        visit_id: visit.clone(),
        event_id: "ev-1".into(),
        kind: kind.into(),
        source: "cam-1".into(),
        path: format!("{visit}/{id}.jpg"),
        at,
        created_at,
    }
}

pub async fn evidence_rows_are_listed_by_visit_and_by_age(s: Arc<SqlStore>) {
    let visit = seed_visit(&s, "visit-e").await;
    let other = seed_visit(&s, "visit-f").await;
    s.add_evidence(&evidence("e-2", &visit, "weight_trace", 200, 1_000)).await.unwrap();
    s.add_evidence(&evidence("e-1", &visit, "snapshot", 100, 3_000)).await.unwrap();
    s.add_evidence(&evidence("e-3", &other, "candidates", 100, 2_000)).await.unwrap();
    let listed = s.evidence_for_visit(&visit).await.unwrap();
    assert_eq!(listed.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["e-1", "e-2"], "by event time");
    assert_eq!(s.get_evidence("e-3").await.unwrap().unwrap().kind, "candidates");
    let old = s.evidence_created_before(2_500, 10).await.unwrap();
    assert_eq!(old.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["e-2", "e-3"], "oldest first");
    assert_eq!(s.evidence_created_before(2_500, 1).await.unwrap().len(), 1, "limited");
    assert!(s.delete_evidence("e-2").await.unwrap());
    assert!(!s.delete_evidence("e-2").await.unwrap());
    assert_eq!(s.get_evidence("e-2").await.unwrap(), None);
    match s.add_evidence(&evidence("e-9", &visit, "video", 1, 1)).await {
        Err(DbError::Constraint { constraint }) => assert_eq!(constraint, "evidence_kind_known"),
        other => panic!("expected evidence_kind_known, got {other:?}"),
    }
    assert!(matches!(s.add_evidence(&evidence("e-1", &visit, "snapshot", 1, 1)).await, Err(DbError::Conflict { .. })));
}

pub async fn back_office_reads_are_bounded_by_time(s: Arc<SqlStore>) {
    let early = seed_visit(&s, "visit-t1").await;
    let late = seed_visit(&s, "visit-t2").await;
    s.set_visit_status(&early, VisitStatus::Exited, 5_000).await.unwrap();
    s.set_visit_status(&late, VisitStatus::Exited, 9_000).await.unwrap();
    let exited = s.visits_exited_between(&store_id(), 4_000, 9_000).await.unwrap();
    assert_eq!(exited.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(), ["visit-t1"], "[from, to)");
    for (visit, id, at) in [(&early, "r-1", 5_100), (&late, "r-2", 9_100)] {
        let r = NewReceipt {
            id: id.into(),
            store_id: store_id(),
            visit_id: visit.clone(),
            shopper_id: ShopperId::from("shopper-r"),
            issued_at: at,
            currency: "EUR".into(),
            total_minor: 100,
            tax_minor: 7,
        };
        s.issue_receipt(&r, &|n| format!("{{\"number\":{n}}}")).await.unwrap();
    }
    let receipts = s.receipts_between(&store_id(), 9_000, 10_000).await.unwrap();
    assert_eq!(receipts.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["r-2"]);
    for (id, at) in [("case-t1", 5_200), ("case-t2", 9_200)] {
        let visit = if id == "case-t1" { &early } else { &late };
        s.open_review_case(&ReviewCase::open(CaseId::from(id), visit.clone(), store_id(), "r".into(), at))
            .await
            .unwrap();
    }
    let cases = s.review_cases_between(&store_id(), 0, 6_000).await.unwrap();
    assert_eq!(cases.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["case-t1"]);
    assert!(s.review_cases_between(&StoreId::from("elsewhere"), 0, 99_999).await.unwrap().is_empty());
    s.append_audit(100, "rita", "review_decided", "case:case-t1", "{}").await.unwrap();
    s.append_audit(200, "rita", "refund", "receipt:r-1", "{}").await.unwrap();
    s.append_audit(300, "rita", "review_decided", "case:case-t2", "{}").await.unwrap();
    let decided = s.audit_by_action("review_decided", 0, 300).await.unwrap();
    assert_eq!(decided.iter().map(|e| e.subject.as_str()).collect::<Vec<_>>(), ["case:case-t1"]);
}
