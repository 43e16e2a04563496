//! The outbox with fake senders over a real SQLite store: idempotent
//! enqueueing, sending, backoff, giving up, and gone subscriptions.

use super::html::tests::receipt;
use super::*;
use crate::db::{ConnectOptions, OutboxMessage, PushSubscription, Shopper, SqlStore};
use crate::ids::ShopperId;
use std::time::Duration;

const T0: Millis = 1_714_731_667_000;

struct Fixture {
    storage: Arc<SqlStore>,
    mailer: Arc<MemoryMailer>,
    push: Arc<MemoryPush>,
    worker: OutboxWorker,
    notifier: Notifier,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/walkout.db", dir.path().display());
    let storage = Arc::new(SqlStore::connect(&ConnectOptions::new(url)).await.unwrap());
    let (mailer, push) = (Arc::new(MemoryMailer::default()), Arc::new(MemoryPush::default()));
    let from = parse_mailbox("Receipts <receipts@shop.example>").unwrap();
    let policy = RetryPolicy { max_attempts: 4, ..RetryPolicy::default() };
    let worker = OutboxWorker::new(storage.clone(), mailer.clone(), push.clone(), from).with_policy(policy);
    let notifier = Notifier::new(storage.clone());
    Fixture { storage, mailer, push, worker, notifier, _dir: dir }
}

async fn subscription(storage: &SqlStore, endpoint: &str) -> PushSubscription {
    let shopper = ShopperId::from("ana");
    if storage.get_shopper(&shopper).await.unwrap().is_none() {
        let s = Shopper {
            id: shopper.clone(),
            email: "ana@example.com".into(),
            display_name: "Ana".into(),
            password_hash: "$argon2id$x".into(),
            loyalty_points: 0,
            created_at: T0,
        };
        storage.create_shopper(&s).await.unwrap();
    }
    let sub = PushSubscription {
        endpoint: endpoint.into(),
        shopper_id: shopper,
        p256dh: "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4".into(),
        auth: "BTBZMqHH6r4Tts7J_aSIgg".into(),
        created_at: T0,
    };
    storage.save_push_subscription(&sub).await.unwrap();
    sub
}

async fn get(storage: &SqlStore, id: &str) -> OutboxMessage {
    storage.get_outbox(id).await.unwrap().unwrap()
}

#[test]
fn backoff_doubles_from_ten_seconds_to_an_hour() {
    let p = RetryPolicy::default();
    let secs: Vec<u64> = (1..=11).map(|n| p.delay(n).as_secs()).collect();
    assert_eq!(secs, vec![10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]);
    assert_eq!(p.delay(1000), Duration::from_secs(3600));
}

#[tokio::test]
async fn enqueueing_is_idempotent_and_sends_nothing_inline() {
    let f = fixture().await;
    let sub = subscription(&f.storage, "https://push.example.net/a").await;
    let r = receipt("Demo Market");
    let first =
        f.notifier.enqueue_receipt("r-1", &r, Some("ana@example.com"), std::slice::from_ref(&sub), T0).await.unwrap();
    assert_eq!(first.queued, vec![email_id("r-1"), push_id("r-1", &sub.endpoint)]);
    assert!(
        first.queued[1].starts_with("receipt:r-1:push:") && first.queued[1].len() == "receipt:r-1:push:".len() + 16
    );
    let again = f.notifier.enqueue_receipt("r-1", &r, Some("ana@example.com"), &[sub], T0 + 5).await.unwrap();
    assert_eq!((again.queued.len(), again.existing), (0, first.queued.clone()));
    assert!(f.mailer.sent().is_empty() && f.push.sent().is_empty());
    let m = get(&f.storage, &email_id("r-1")).await;
    assert_eq!(
        (m.kind.as_str(), m.attempts, m.next_attempt_at, OutboxState::of(&m)),
        ("email", 0, T0, OutboxState::Pending)
    );

    let bad = f.notifier.enqueue_receipt("r-2", &r, Some("not an address"), &[], T0).await.unwrap_err();
    assert!(matches!(bad, NotifyError::Address { .. }), "{bad}");
    assert!(f.storage.get_outbox(&email_id("r-2")).await.unwrap().is_none());
}

#[tokio::test]
async fn the_worker_sends_due_email_and_push_once() {
    let f = fixture().await;
    let sub = subscription(&f.storage, "https://push.example.net/a").await;
    f.notifier.enqueue_receipt("r-1", &receipt("Demo"), Some("ana@example.com"), &[sub], T0).await.unwrap();
    assert_eq!(f.worker.run_once(T0 - 1).await.unwrap(), RunReport::default());
    assert_eq!(f.worker.run_once(T0).await.unwrap(), RunReport { sent: 2, retrying: 0, gave_up: 0 });
    assert_eq!(f.worker.run_once(T0 + 60_000).await.unwrap(), RunReport::default());

    let mails = f.mailer.sent();
    assert_eq!(mails.len(), 1);
    let raw = String::from_utf8_lossy(&mails[0].1);
    assert!(raw.contains("To: ana@example.com") && raw.contains("Subject: Your receipt no. 1042 from Demo"), "{raw}");
    let pushes = f.push.sent();
    let message: PushMessage = serde_json::from_slice(&pushes[0].1).unwrap();
    assert_eq!(message.url, "/app/receipts/r-1");
    assert_eq!(message.total, "6.27 EUR");
    assert_eq!(message.body, "Receipt no. 1042: 6.27 EUR");
    assert_eq!(pushes[0].2, PushOptions { ttl_s: 86_400, urgency: Urgency::Normal });
    let m = get(&f.storage, &email_id("r-1")).await;
    assert_eq!((m.sent_at, m.attempts, OutboxState::of(&m)), (Some(T0), 1, OutboxState::Sent));
}

#[tokio::test]
async fn failures_back_off_then_give_up_after_the_last_attempt() {
    let f = fixture().await;
    f.notifier.enqueue_receipt("r-1", &receipt("Demo"), Some("ana@example.com"), &[], T0).await.unwrap();
    f.mailer.fail_next(10);
    let mut now = T0;
    for (attempt, wait_s) in [(1, 10), (2, 20), (3, 40)] {
        assert_eq!(f.worker.run_once(now).await.unwrap().retrying, 1);
        let m = get(&f.storage, &email_id("r-1")).await;
        assert_eq!((m.attempts, m.next_attempt_at), (attempt, now + wait_s * 1000));
        assert_eq!(m.last_error.as_deref(), Some("SMTP: injected failure"));
        assert_eq!(f.worker.run_once(m.next_attempt_at - 1).await.unwrap(), RunReport::default(), "not due yet");
        now = m.next_attempt_at;
    }
    assert_eq!(f.worker.run_once(now).await.unwrap().gave_up, 1);
    let m = get(&f.storage, &email_id("r-1")).await;
    assert_eq!((m.attempts, OutboxState::of(&m)), (4, OutboxState::GaveUp));
    assert_eq!(m.last_error.as_deref(), Some("gave up after 4 attempts: SMTP: injected failure"));
    assert_eq!(f.worker.run_once(i64::MAX - 1).await.unwrap(), RunReport::default());
    assert!(f.mailer.sent().is_empty());
}

#[tokio::test]
async fn a_recovered_relay_delivers_on_the_next_due_pass() {
    let f = fixture().await;
    f.notifier.enqueue_receipt("r-1", &receipt("Demo"), Some("ana@example.com"), &[], T0).await.unwrap();
    f.mailer.fail_next(1);
    assert_eq!(f.worker.run_once(T0).await.unwrap().retrying, 1);
    assert_eq!(f.worker.run_once(T0 + 10_000).await.unwrap().sent, 1);
    let m = get(&f.storage, &email_id("r-1")).await;
    assert_eq!((m.attempts, m.last_error, m.sent_at), (2, None, Some(T0 + 10_000)));
}

#[tokio::test]
async fn push_answers_decide_delete_retry_or_give_up() {
    let f = fixture().await;
    let gone = subscription(&f.storage, "https://push.example.net/gone").await;
    let busy = subscription(&f.storage, "https://push.example.net/busy").await;
    let bad = subscription(&f.storage, "https://push.example.net/bad").await;
    let subs = [gone.clone(), busy.clone(), bad.clone()];
    f.notifier.enqueue_receipt("r-1", &receipt("Demo"), None, &subs, T0).await.unwrap();
    // Due in id order: the three hashes sort in some order; answer by endpoint instead.
    let due = f.storage.due_outbox(T0, 10).await.unwrap();
    let answers = due.iter().map(|m| match m.recipient.rsplit('/').next().unwrap() {
        "gone" => PushOutcome::Gone { status: 410 },
        "busy" => PushOutcome::Retry { status: 429, retry_after: Some(Duration::from_secs(300)) },
        _ => PushOutcome::Rejected { status: 400, reason: "bad request".into() },
    });
    f.push.answer(answers.collect::<Vec<_>>());
    assert_eq!(f.worker.run_once(T0).await.unwrap(), RunReport { sent: 0, retrying: 1, gave_up: 2 });

    let left: Vec<String> =
        f.storage.push_subscriptions(&gone.shopper_id).await.unwrap().into_iter().map(|s| s.endpoint).collect();
    assert!(!left.contains(&gone.endpoint) && left.contains(&busy.endpoint), "{left:?}");
    let m = get(&f.storage, &push_id("r-1", &gone.endpoint)).await;
    assert_eq!(OutboxState::of(&m), OutboxState::GaveUp);
    assert_eq!(m.last_error.as_deref(), Some("subscription gone (HTTP 410); deleted it"));
    let m = get(&f.storage, &push_id("r-1", &busy.endpoint)).await;
    assert_eq!(
        (OutboxState::of(&m), m.next_attempt_at),
        (OutboxState::Pending, T0 + 300_000),
        "Retry-After wins over 10 s"
    );
    let m = get(&f.storage, &push_id("r-1", &bad.endpoint)).await;
    assert!(m.last_error.unwrap().contains("HTTP 400"));
}

#[tokio::test]
async fn the_loop_stops_on_shutdown() {
    let f = fixture().await;
    f.notifier.enqueue_receipt("r-1", &receipt("Demo"), Some("ana@example.com"), &[], T0).await.unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = Arc::new(f.worker);
    let task = {
        let worker = worker.clone();
        tokio::spawn(async move { worker.run(Arc::new(SystemClock), Duration::from_secs(3600), stopped).await })
    };
    // The first pass runs at once; wait for it through storage, not a sleep of guessed length.
    for _ in 0..500 {
        if get(&f.storage, &email_id("r-1")).await.sent_at.is_some() {
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(f.mailer.sent().len(), 1);
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("stops promptly").unwrap();
}
