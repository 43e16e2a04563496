//! The storage conformance suite: every `Storage` method, constraint names,
//! idempotency and concurrent writers, run against SQLite always and against
//! PostgreSQL when `WALKOUT_TEST_POSTGRES_URL` is set (CI sets it). Each
//! Postgres test runs in a schema of its own, dropped afterwards.

use std::sync::Arc;
use walkout::db::*;
use walkout::ids::*;

#[path = "storage/review.rs"]
mod review_cases;

mod support {
    use super::*;
    use std::time::Duration;

    pub struct Backend {
        pub store: Arc<SqlStore>,
        pub raw: Raw,
        cleanup: Option<(String, String)>,
        _dir: Option<tempfile::TempDir>,
    }

    /// Direct access to the test database, bypassing `Storage`.
    #[derive(Clone)]
    pub enum Raw {
        Sqlite(String),
        Postgres(String, String),
    }

    impl Raw {
        pub async fn execute(&self, sql: &'static str, blob: Vec<u8>) {
            match self {
                Raw::Sqlite(url) => {
                    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
                    sqlx::query(sql).bind(blob).execute(&pool).await.unwrap();
                    pool.close().await;
                }
                Raw::Postgres(url, schema) => {
                    let opts: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
                    let pool =
                        sqlx::PgPool::connect_with(opts.options([("search_path", schema.as_str())])).await.unwrap();
                    sqlx::query(sql).bind(blob).execute(&pool).await.unwrap();
                    pool.close().await;
                }
            }
        }
    }

    impl Backend {
        pub async fn finish(self) {
            self.store.close().await;
            if let Some((url, schema)) = self.cleanup {
                let pool = sqlx::PgPool::connect(&url).await.expect("postgres");
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                    .execute(&pool)
                    .await
                    .expect("drop schema");
            }
        }
    }

    pub async fn sqlite() -> Backend {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/walkout.db", dir.path().display());
        let store = SqlStore::connect(&ConnectOptions::new(url.clone())).await.expect("sqlite store");
        Backend { store: Arc::new(store), raw: Raw::Sqlite(url), cleanup: None, _dir: Some(dir) }
    }

    pub async fn postgres() -> Option<Backend> {
        let Ok(url) = std::env::var("WALKOUT_TEST_POSTGRES_URL") else {
            eprintln!(
                "SKIPPED: PostgreSQL storage suite; set WALKOUT_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test to run it"
            );
            return None;
        };
        let schema = format!("walkout_test_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(&url).await.expect("WALKOUT_TEST_POSTGRES_URL must be reachable");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .expect("create schema");
        admin.close().await;
        let opts = ConnectOptions {
            url: url.clone(),
            connect_timeout: Duration::from_secs(5),
            max_connections: 8,
            schema: Some(schema.clone()),
        };
        let store = SqlStore::connect(&opts).await.expect("postgres store");
        Some(Backend {
            store: Arc::new(store),
            raw: Raw::Postgres(url.clone(), schema.clone()),
            cleanup: Some((url, schema)),
            _dir: None,
        })
    }
}

/// Declares each case once per backend: `sqlite::case` and `postgres::case`.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let b = super::support::sqlite().await;
                super::cases::$case(b.store.clone()).await;
                b.finish().await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let Some(b) = super::support::postgres().await else { return };
                super::cases::$case(b.store.clone()).await;
                b.finish().await;
            })*
        }
    };
}

conformance!(
    migrations_are_applied_and_versioned,
    stores_and_products_round_trip,
    planogram_is_replaced_whole,
    check_constraints_are_reported_by_name,
    shoppers_are_unique_by_email_and_keep_points,
    payment_methods_keep_only_token_brand_and_last_four,
    devices_register_and_revoke,
    entry_tokens_are_single_use_under_concurrency,
    visits_move_through_their_lifecycle,
    cart_ledger_is_append_only_and_idempotent,
    receipt_numbers_are_sequential_without_gaps_under_concurrency,
    receipts_are_issued_once_per_visit,
    payments_are_idempotent_by_key_under_concurrency,
    review_cases_are_decided_by_one_reviewer,
    audit_log_appends_in_order,
    stock_levels_accumulate,
    sessions_expire_and_can_be_ended,
    outbox_messages_are_queued_once_and_retried,
    push_subscriptions_are_kept_per_endpoint,
    staff_accounts_are_unique_and_track_lockout,
    staff_sessions_are_found_by_hash_until_ended,
    a_decision_writes_the_case_its_corrections_and_audit_at_once,
    evidence_rows_are_listed_by_visit_and_by_age,
    back_office_reads_are_bounded_by_time,
);

#[tokio::test]
async fn sqlite_a_newer_schema_is_refused() {
    let b = support::sqlite().await;
    cases::a_newer_schema_is_refused(b.store.clone(), b.raw.clone()).await;
    b.finish().await;
}

#[tokio::test]
async fn postgres_a_newer_schema_is_refused() {
    let Some(b) = support::postgres().await else { return };
    cases::a_newer_schema_is_refused(b.store.clone(), b.raw.clone()).await;
    b.finish().await;
}

mod cases {
    pub use super::review_cases::*;
    use super::*;

    const STORE: &str = "store-1";

    fn store_id() -> StoreId {
        StoreId::from(STORE)
    }

    async fn seed_store(s: &SqlStore) {
        s.upsert_store(&Store {
            id: store_id(),
            name: "Test Market".into(),
            address: "1 Test Street".into(),
            vat_number: "DE000000000".into(),
            currency: "EUR".into(),
            tax_mode: "inclusive".into(),
            created_at: 1_000,
        })
        .await
        .unwrap();
    }

    fn product(sku: &str, price_minor: i64) -> Product {
        Product {
            store_id: store_id(),
            sku: Sku::from(sku),
            name: format!("Product {sku}"),
            unit_weight_g: 500.0,
            weight_tolerance_g: 5.0,
            price_minor,
            currency: "EUR".into(),
            tax_class: "reduced".into(),
            age_restricted: false,
        }
    }

    async fn seed_shopper(s: &SqlStore, id: &str) -> ShopperId {
        let shopper = Shopper {
            id: ShopperId::from(id),
            email: format!("{id}@example.com"),
            display_name: id.into(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            loyalty_points: 0,
            created_at: 1_000,
        };
        s.create_shopper(&shopper).await.unwrap();
        shopper.id
    }

    async fn seed_visit(s: &SqlStore, id: &str) -> VisitId {
        seed_store(s).await;
        let shopper = match s.get_shopper(&ShopperId::from("shopper-v")).await.unwrap() {
            Some(sh) => sh.id,
            None => seed_shopper(s, "shopper-v").await,
        };
        let visit = Visit {
            id: VisitId::from(id),
            store_id: store_id(),
            shopper_id: shopper,
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

    fn payment(visit: &VisitId, key: &str) -> Payment {
        Payment {
            id: uuid::Uuid::new_v4().to_string(),
            visit_id: visit.clone(),
            operation: "capture".into(),
            idempotency_key: key.into(),
            provider: "sandbox".into(),
            provider_ref: None,
            amount_minor: 1_234,
            currency: "EUR".into(),
            state: "pending".into(),
            error_code: None,
            created_at: 3_000,
            updated_at: 3_000,
        }
    }

    fn receipt(visit: &VisitId, id: &str) -> NewReceipt {
        NewReceipt {
            id: id.into(),
            store_id: store_id(),
            visit_id: visit.clone(),
            shopper_id: ShopperId::from("shopper-v"),
            issued_at: 4_000,
            currency: "EUR".into(),
            total_minor: 999,
            tax_minor: 65,
        }
    }

    /// The document names its own number, as a real receipt does.
    fn render(no: i64) -> String {
        format!("{{\"number\":{no}}}")
    }

    fn expect_constraint(result: Result<impl std::fmt::Debug, DbError>, name: &str) {
        match result {
            Err(DbError::Constraint { constraint }) | Err(DbError::Conflict { constraint }) => {
                assert_eq!(constraint, name)
            }
            other => panic!("expected constraint {name}, got {other:?}"),
        }
    }

    pub async fn migrations_are_applied_and_versioned(s: Arc<SqlStore>) {
        assert_eq!(s.schema_version().await.unwrap(), s.known_schema_version());
        assert!(s.known_schema_version() >= 1);
        assert!(s.migrate().await.unwrap().is_empty(), "a second migrate applies nothing");
    }

    pub async fn a_newer_schema_is_refused(s: Arc<SqlStore>, raw: super::support::Raw) {
        // What a later walkout would leave behind: a migration this build does not know.
        let sql = "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time)
                   VALUES (99999999999999, 'from the future', CURRENT_TIMESTAMP, TRUE, $1, 0)";
        raw.execute(sql, vec![0u8; 48]).await;
        match s.migrate().await {
            Err(e @ DbError::NewerSchema { .. }) => assert!(e.to_string().contains("newer walkout"), "{e}"),
            other => panic!("expected NewerSchema, got {other:?}"),
        }
    }

    pub async fn stores_and_products_round_trip(s: Arc<SqlStore>) {
        seed_store(&s).await;
        let st = s.get_store(&store_id()).await.unwrap().unwrap();
        assert_eq!(st.name, "Test Market");
        assert!(s.get_store(&StoreId::from("nope")).await.unwrap().is_none());
        s.upsert_product(&product("B", 249)).await.unwrap();
        s.upsert_product(&product("A", 99)).await.unwrap();
        let mut changed = product("A", 109);
        changed.age_restricted = true;
        s.upsert_product(&changed).await.unwrap();
        let got = s.get_product(&store_id(), &Sku::from("A")).await.unwrap().unwrap();
        assert_eq!(got, changed);
        let all = s.list_products(&store_id()).await.unwrap();
        assert_eq!(all.iter().map(|p| p.sku.as_str()).collect::<Vec<_>>(), ["A", "B"]);
        expect_constraint(
            s.upsert_product(&Product { store_id: StoreId::from("nope"), ..product("C", 1) }).await,
            if s.backend() == "sqlite" { "foreign_key" } else { "products_store_fk" },
        );
    }

    pub async fn planogram_is_replaced_whole(s: Arc<SqlStore>) {
        seed_store(&s).await;
        for sku in ["A", "B"] {
            s.upsert_product(&product(sku, 100)).await.unwrap();
        }
        let facing =
            |plate: &str, sku: &str| Facing { store_id: store_id(), plate_id: plate.into(), sku: Sku::from(sku) };
        s.replace_facings(&store_id(), &[facing("1.1.1", "A"), facing("1.1.2", "A")]).await.unwrap();
        s.replace_facings(&store_id(), &[facing("1.1.2", "B")]).await.unwrap();
        assert_eq!(s.list_facings(&store_id()).await.unwrap(), vec![facing("1.1.2", "B")]);
        // A failing replacement leaves the old planogram in place.
        let bad = s.replace_facings(&store_id(), &[facing("1.1.3", "A"), facing("1.1.4", "ZZZ")]).await;
        assert!(bad.is_err());
        assert_eq!(s.list_facings(&store_id()).await.unwrap(), vec![facing("1.1.2", "B")]);
    }

    pub async fn check_constraints_are_reported_by_name(s: Arc<SqlStore>) {
        seed_store(&s).await;
        expect_constraint(s.upsert_product(&product("N", -1)).await, "products_price_nonneg");
        let mut heavy = product("W", 1);
        heavy.unit_weight_g = 0.0;
        expect_constraint(s.upsert_product(&heavy).await, "products_weight_positive");
    }

    pub async fn shoppers_are_unique_by_email_and_keep_points(s: Arc<SqlStore>) {
        let id = seed_shopper(&s, "alice").await;
        let again = Shopper { id: ShopperId::from("alice-2"), ..s.get_shopper(&id).await.unwrap().unwrap() };
        expect_constraint(s.create_shopper(&again).await, "shoppers_email_unique");
        assert_eq!(s.shopper_by_email("alice@example.com").await.unwrap().unwrap().id, id);
        assert!(s.shopper_by_email("bob@example.com").await.unwrap().is_none());
        assert_eq!(s.add_loyalty_points(&id, 120).await.unwrap(), 120);
        assert_eq!(s.add_loyalty_points(&id, -20).await.unwrap(), 100);
        expect_constraint(s.add_loyalty_points(&id, -101).await, "shoppers_points_nonneg");
        assert!(matches!(s.add_loyalty_points(&ShopperId::from("ghost"), 1).await, Err(DbError::NotFound { .. })));
    }

    pub async fn payment_methods_keep_only_token_brand_and_last_four(s: Arc<SqlStore>) {
        let shopper = seed_shopper(&s, "carol").await;
        let method = PaymentMethod {
            id: PaymentMethodId::from("pm-1"),
            shopper_id: shopper.clone(),
            provider: "sandbox".into(),
            provider_token: "tok_visa_4242".into(),
            brand: "visa".into(),
            last4: "4242".into(),
            is_default: true,
            created_at: 1,
        };
        s.add_payment_method(&method).await.unwrap();
        assert_eq!(s.list_payment_methods(&shopper).await.unwrap(), vec![method.clone()]);
        let dup = PaymentMethod { id: PaymentMethodId::from("pm-2"), ..method.clone() };
        expect_constraint(s.add_payment_method(&dup).await, "payment_methods_token_unique");
        let card_number = PaymentMethod {
            id: PaymentMethodId::from("pm-3"),
            provider_token: "tok_2".into(),
            last4: "4242424242424242".into(),
            ..method
        };
        expect_constraint(s.add_payment_method(&card_number).await, "payment_methods_last4_digits");
    }

    pub async fn devices_register_and_revoke(s: Arc<SqlStore>) {
        let shopper = seed_shopper(&s, "dave").await;
        let device = Device {
            id: DeviceId::from("dev-1"),
            shopper_id: shopper,
            public_key: vec![7u8; 32],
            label: "phone".into(),
            created_at: 1,
            revoked_at: None,
        };
        s.register_device(&device).await.unwrap();
        assert_eq!(s.get_device(&device.id).await.unwrap().unwrap(), device);
        let same_key = Device { id: DeviceId::from("dev-2"), ..device.clone() };
        expect_constraint(s.register_device(&same_key).await, "devices_public_key_unique");
        assert!(s.revoke_device(&device.id, 50).await.unwrap());
        assert!(!s.revoke_device(&device.id, 60).await.unwrap());
        assert_eq!(s.get_device(&device.id).await.unwrap().unwrap().revoked_at, Some(50));
        assert!(matches!(s.revoke_device(&DeviceId::from("ghost"), 1).await, Err(DbError::NotFound { .. })));
    }

    pub async fn entry_tokens_are_single_use_under_concurrency(s: Arc<SqlStore>) {
        let device = DeviceId::from("dev-x");
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let s = s.clone();
                let device = device.clone();
                tokio::spawn(async move { s.consume_entry_token("jti-1", &device, 5).await.unwrap() })
            })
            .collect();
        let mut firsts = 0;
        for t in tasks {
            firsts += usize::from(t.await.unwrap());
        }
        assert_eq!(firsts, 1, "exactly one gate may accept a token");
        assert!(s.consume_entry_token("jti-2", &device, 6).await.unwrap());
    }

    pub async fn visits_move_through_their_lifecycle(s: Arc<SqlStore>) {
        let id = seed_visit(&s, "visit-1").await;
        s.bind_visit_track(&id, "track-9").await.unwrap();
        let v = s.set_visit_status(&id, VisitStatus::Shopping, 2_500).await.unwrap();
        assert_eq!((v.status, v.exited_at), (VisitStatus::Shopping, None));
        let v = s.set_visit_status(&id, VisitStatus::Exited, 3_000).await.unwrap();
        assert_eq!((v.exited_at, v.track_id.as_deref()), (Some(3_000), Some("track-9")));
        let v = s.set_visit_status(&id, VisitStatus::Settled, 3_500).await.unwrap();
        assert_eq!((v.exited_at, v.settled_at), (Some(3_000), Some(3_500)), "exit time is kept");
        assert_eq!(s.list_visits(&store_id(), VisitStatus::Settled).await.unwrap().len(), 1);
        assert!(s.list_visits(&store_id(), VisitStatus::Shopping).await.unwrap().is_empty());
        assert!(matches!(
            s.set_visit_status(&VisitId::from("ghost"), VisitStatus::Exited, 1).await,
            Err(DbError::NotFound { .. })
        ));
        let mut bad = s.get_visit(&id).await.unwrap().unwrap();
        bad.id = VisitId::from("visit-2");
        bad.party_size = 0;
        expect_constraint(s.create_visit(&bad).await, "visits_party_size_positive");
    }

    fn cart_event(id: &str, visit: &VisitId, kind: CartEventKind, qty: i64) -> NewCartEvent {
        NewCartEvent {
            id: id.into(),
            store_id: store_id(),
            visit_id: Some(visit.clone()),
            kind,
            sku: Sku::from("A"),
            quantity: qty,
            confidence: 0.97,
            source: "shelf".into(),
            evidence_ref: Some("shelf-event-1".into()),
            shopper_id: None,
            track_id: Some("track-1".into()),
            at: 10,
        }
    }

    pub async fn cart_ledger_is_append_only_and_idempotent(s: Arc<SqlStore>) {
        let visit = seed_visit(&s, "visit-c").await;
        let first = s.append_cart_event(&cart_event("e1", &visit, CartEventKind::Pick, 2)).await.unwrap();
        let second = s.append_cart_event(&cart_event("e2", &visit, CartEventKind::PutBack, 1)).await.unwrap();
        assert!(second.seq > first.seq);
        let repeat = s.append_cart_event(&cart_event("e1", &visit, CartEventKind::Pick, 2)).await.unwrap();
        assert_eq!(repeat, first, "a repeated append returns the stored event");
        let clash = s.append_cart_event(&cart_event("e1", &visit, CartEventKind::Pick, 3)).await;
        expect_constraint(clash, "cart_events_id_unique");
        let ledger = s.cart_events(&visit).await.unwrap();
        assert_eq!(
            ledger.iter().map(|e| (e.kind, e.quantity)).collect::<Vec<_>>(),
            [(CartEventKind::Pick, 2), (CartEventKind::PutBack, 1)]
        );
        expect_constraint(
            s.append_cart_event(&cart_event("e3", &visit, CartEventKind::Pick, 0)).await,
            "cart_events_quantity_positive",
        );
    }

    pub async fn receipt_numbers_are_sequential_without_gaps_under_concurrency(s: Arc<SqlStore>) {
        let mut visits = Vec::new();
        for i in 0..20 {
            visits.push(seed_visit(&s, &format!("visit-r{i}")).await);
        }
        let tasks: Vec<_> = visits
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                let s = s.clone();
                tokio::spawn(async move {
                    s.issue_receipt(&receipt(&v, &format!("rcpt-{i}")), &render).await.unwrap().receipt_no
                })
            })
            .collect();
        let mut numbers = Vec::new();
        for t in tasks {
            numbers.push(t.await.unwrap());
        }
        numbers.sort();
        assert_eq!(numbers, (1..=20).collect::<Vec<i64>>());
        let mine = s.receipts_for_shopper(&ShopperId::from("shopper-v")).await.unwrap();
        assert_eq!(mine.len(), 20);
        let third = s.get_receipt("rcpt-3").await.unwrap().unwrap();
        assert_eq!(third.body_json, render(third.receipt_no), "the document carries the number assigned");
    }

    pub async fn receipts_are_issued_once_per_visit(s: Arc<SqlStore>) {
        let visit = seed_visit(&s, "visit-once").await;
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let s = s.clone();
                let v = visit.clone();
                tokio::spawn(async move { s.issue_receipt(&receipt(&v, &format!("try-{i}")), &render).await.unwrap() })
            })
            .collect();
        let mut ids = std::collections::BTreeSet::new();
        for t in tasks {
            let r = t.await.unwrap();
            assert_eq!(r.receipt_no, 1);
            ids.insert(r.id);
        }
        assert_eq!(ids.len(), 1, "every retry sees the one receipt");
        let next = seed_visit(&s, "visit-next").await;
        assert_eq!(
            s.issue_receipt(&receipt(&next, "r-next"), &render).await.unwrap().receipt_no,
            2,
            "no gap after the races"
        );
    }

    pub async fn payments_are_idempotent_by_key_under_concurrency(s: Arc<SqlStore>) {
        let visit = seed_visit(&s, "visit-p").await;
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let s = s.clone();
                let v = visit.clone();
                tokio::spawn(async move { s.begin_payment(&payment(&v, "visit-p:capture")).await.unwrap() })
            })
            .collect();
        let mut created = 0;
        for t in tasks {
            if let PaymentRecord::Created(_) = t.await.unwrap() {
                created += 1;
            }
        }
        assert_eq!(created, 1, "exactly one caller goes on to the provider");
        let done = s.finish_payment("visit-p:capture", "succeeded", Some("pi_123"), None, 3_100).await.unwrap();
        assert_eq!(
            (done.state.as_str(), done.provider_ref.as_deref(), done.updated_at),
            ("succeeded", Some("pi_123"), 3_100)
        );
        match s.begin_payment(&payment(&visit, "visit-p:capture")).await.unwrap() {
            PaymentRecord::Existing(p) => assert_eq!(p.state, "succeeded"),
            other => panic!("a retry must see the stored outcome, got {other:?}"),
        }
        assert_eq!(s.payments_for_visit(&visit).await.unwrap().len(), 1);
        assert!(s.payment_by_key("nope").await.unwrap().is_none());
        assert!(matches!(s.finish_payment("nope", "failed", None, None, 1).await, Err(DbError::NotFound { .. })));
        let mut bad = payment(&visit, "visit-p:refund:1");
        bad.state = "maybe".into();
        expect_constraint(s.begin_payment(&bad).await, "payments_state_known");
    }

    pub async fn review_cases_are_decided_by_one_reviewer(s: Arc<SqlStore>) {
        let visit = seed_visit(&s, "visit-rv").await;
        for (id, at) in [("case-2", 20), ("case-1", 10)] {
            let case = ReviewCase::open(CaseId::from(id), visit.clone(), store_id(), "low_confidence".into(), at);
            s.open_review_case(&case).await.unwrap();
        }
        let open = s.list_review_cases(&store_id(), "open").await.unwrap();
        assert_eq!(open.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["case-1", "case-2"], "oldest first");
        let id = CaseId::from("case-1");
        let claimed = s.claim_review_case(&id, "rita", 30).await.unwrap();
        assert_eq!(claimed.claimed_by.as_deref(), Some("rita"));
        assert!(s.claim_review_case(&id, "rita", 31).await.is_ok(), "re-opening one's own claim");
        assert!(matches!(s.claim_review_case(&id, "sam", 32).await, Err(DbError::State(_))));
        assert!(matches!(s.decide_review_case(&id, "sam", "approve", "ok", 33).await, Err(DbError::State(_))));
        let decided = s.decide_review_case(&id, "rita", "approve", "looks right", 34).await.unwrap();
        assert_eq!((decided.status.as_str(), decided.decided_at), ("decided", Some(34)));
        assert!(matches!(s.decide_review_case(&id, "rita", "approve", "again", 35).await, Err(DbError::State(_))));
        assert!(matches!(s.claim_review_case(&CaseId::from("ghost"), "rita", 1).await, Err(DbError::NotFound { .. })));
        assert_eq!(s.get_review_case(&id).await.unwrap().unwrap().comment.as_deref(), Some("looks right"));
    }

    pub async fn audit_log_appends_in_order(s: Arc<SqlStore>) {
        let a = s.append_audit(1, "rita", "claim", "case-1", "{}").await.unwrap();
        let b = s.append_audit(2, "rita", "approve", "case-1", "{\"total\":999}").await.unwrap();
        s.append_audit(3, "sam", "login", "staff", "{}").await.unwrap();
        assert!(b > a);
        let log = s.audit_for_subject("case-1").await.unwrap();
        assert_eq!(log.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["claim", "approve"]);
    }

    pub async fn stock_levels_accumulate(s: Arc<SqlStore>) {
        let sku = Sku::from("A");
        assert_eq!(s.adjust_stock(&store_id(), "1.1.1", &sku, 10, 1).await.unwrap(), 10);
        assert_eq!(s.adjust_stock(&store_id(), "1.1.1", &sku, -3, 2).await.unwrap(), 7);
        assert_eq!(s.adjust_stock(&store_id(), "1.1.2", &sku, 4, 3).await.unwrap(), 4);
        let levels = s.stock_levels(&store_id()).await.unwrap();
        assert_eq!(
            levels.iter().map(|l| (l.plate_id.as_str(), l.quantity)).collect::<Vec<_>>(),
            [("1.1.1", 7), ("1.1.2", 4)]
        );
        assert_eq!(levels[0].updated_at, 2);
    }

    pub async fn sessions_expire_and_can_be_ended(s: Arc<SqlStore>) {
        let shopper = seed_shopper(&s, "erin").await;
        let session = Session { token_hash: "h1".into(), shopper_id: shopper, created_at: 10, expires_at: 100 };
        s.create_session(&session).await.unwrap();
        assert_eq!(s.live_session("h1", 50).await.unwrap(), Some(session.clone()));
        assert_eq!(s.live_session("h1", 100).await.unwrap(), None, "expired at expires_at");
        assert_eq!(s.live_session("other", 50).await.unwrap(), None);
        s.delete_session("h1").await.unwrap();
        assert_eq!(s.live_session("h1", 50).await.unwrap(), None);
    }

    pub async fn outbox_messages_are_queued_once_and_retried(s: Arc<SqlStore>) {
        let message = |id: &str, due: i64| OutboxMessage {
            id: id.into(),
            kind: "email".into(),
            recipient: "a@example.com".into(),
            payload_json: "{}".into(),
            attempts: 0,
            next_attempt_at: due,
            sent_at: None,
            last_error: None,
            created_at: 1,
        };
        assert!(s.enqueue_outbox(&message("m2", 20)).await.unwrap());
        assert!(s.enqueue_outbox(&message("m1", 10)).await.unwrap());
        assert!(!s.enqueue_outbox(&message("m1", 10)).await.unwrap(), "the same id is queued once");
        let due = s.due_outbox(15, 10).await.unwrap();
        assert_eq!(due.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["m1"]);
        s.outbox_failed("m1", "connection refused", 40).await.unwrap();
        let due = s.due_outbox(30, 10).await.unwrap();
        assert_eq!(due.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["m2"], "m1 waits for its backoff");
        s.outbox_sent("m1", 45).await.unwrap();
        let m1 = s.get_outbox("m1").await.unwrap().unwrap();
        assert_eq!((m1.attempts, m1.sent_at, m1.last_error), (2, Some(45), None));
        assert!(s.due_outbox(1_000, 10).await.unwrap().iter().all(|m| m.id != "m1"), "sent messages are not due");
        assert!(matches!(s.outbox_failed("m1", "late", 50).await, Err(DbError::NotFound { .. })));
        let bad = OutboxMessage { kind: "fax".into(), ..message("m3", 1) };
        expect_constraint(s.enqueue_outbox(&bad).await, "outbox_kind_known");
    }

    pub async fn push_subscriptions_are_kept_per_endpoint(s: Arc<SqlStore>) {
        let shopper = seed_shopper(&s, "fay").await;
        let sub = PushSubscription {
            endpoint: "https://push.example/1".into(),
            shopper_id: shopper.clone(),
            p256dh: "key".into(),
            auth: "auth".into(),
            created_at: 1,
        };
        s.save_push_subscription(&sub).await.unwrap();
        let refreshed = PushSubscription { p256dh: "key2".into(), created_at: 2, ..sub.clone() };
        s.save_push_subscription(&refreshed).await.unwrap();
        assert_eq!(s.push_subscriptions(&shopper).await.unwrap(), vec![refreshed]);
        s.delete_push_subscription(&sub.endpoint).await.unwrap();
        assert!(s.push_subscriptions(&shopper).await.unwrap().is_empty());
    }

    pub async fn staff_accounts_are_unique_and_track_lockout(s: Arc<SqlStore>) {
        let staff = Staff {
            id: StaffId::from("st-1"),
            username: "rita".into(),
            password_hash: "$argon2id$...".into(),
            role: "reviewer".into(),
            failed_logins: 0,
            locked_until: None,
            created_at: 1,
        };
        s.create_staff(&staff).await.unwrap();
        expect_constraint(
            s.create_staff(&Staff { id: StaffId::from("st-2"), ..staff.clone() }).await,
            "staff_username_unique",
        );
        expect_constraint(
            s.create_staff(&Staff {
                id: StaffId::from("st-3"),
                username: "x".into(),
                role: "boss".into(),
                ..staff.clone()
            })
            .await,
            "staff_role_known",
        );
        s.set_staff_login_state(&staff.id, 5, Some(99)).await.unwrap();
        let got = s.staff_by_username("rita").await.unwrap().unwrap();
        assert_eq!((got.failed_logins, got.locked_until), (5, Some(99)));
        assert!(s.staff_by_username("nobody").await.unwrap().is_none());
        assert!(matches!(
            s.set_staff_login_state(&StaffId::from("ghost"), 0, None).await,
            Err(DbError::NotFound { .. })
        ));
    }
}
