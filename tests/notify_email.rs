//! Receipt e-mail end to end through the outbox: a REAL SMTP server
//! (`python3 -m aiosmtpd`, Debian's `python3-aiosmtpd`, on a free loopback
//! port, killed on drop) receives the message and stores it in a Maildir,
//! which the test parses; without an SMTP host the message lands as an
//! `.eml` file; a closed port leaves the message queued with its error and
//! next attempt, and it goes out once the server is up.

use chrono::{NaiveDate, TimeZone, Utc};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use walkout::checkout::*;
use walkout::config::NotifyConfig;
use walkout::db::{ConnectOptions, SqlStore, Storage};
use walkout::money::{Currency, Money};
use walkout::notify::{self, OutboxState};

mod support;
use support::smtp::{SmtpServer, free_port, python_or_skip};

const T0: i64 = 1_714_731_667_000;

/// The EU example of `docs/pricing.md`: total 6.27 EUR, VAT 0.54.
fn receipt() -> Receipt {
    let line = |sku: &str, name: &str, quantity, price, class: &str| CartLine {
        sku: sku.into(),
        name: name.into(),
        quantity,
        unit_price: Money::parse(price, Currency::EUR).unwrap(),
        tax_class: class.into(),
    };
    let rules = PricingRules {
        currency: Currency::EUR,
        tax_mode: TaxMode::Inclusive,
        tax_table: TaxTable::germany(),
        promotions: vec![Promotion {
            name: "Apples 3 for 2".into(),
            valid_from: None,
            valid_until: None,
            rule: PromotionRule::MultiBuy { skus: vec!["DM-0086".into()], buy: 3, pay_for: 2 },
        }],
        loyalty: Some(LoyaltyConfig::default()),
    };
    let lines =
        [line("DM-0086", "Äpfel 1,5 kg", 3, "2.49", "reduced"), line("DM-0005", "Cola 1.5 l", 1, "1.29", "standard")];
    let cart = price_cart(&rules, &lines, NaiveDate::from_ymd_opt(2024, 5, 3).unwrap(), 0).unwrap();
    let seller = Seller {
        name: "Walkout Demo Market".into(),
        address: "Friedrichstraße 123, 10117 Berlin".into(),
        vat_number: "DE123456789".into(),
    };
    let visa = Some(PaymentSummary { brand: "VISA".into(), last4: "4242".into() });
    Receipt::sale(1042, Utc.with_ymd_and_hms(2024, 5, 3, 10, 21, 7).unwrap(), "Europe/Berlin", seller, visa, cart)
}

/// A real SMTP server in a child process; killed when dropped.
async fn store(dir: &Path) -> Arc<SqlStore> {
    let url = format!("sqlite://{}/walkout.db", dir.display());
    Arc::new(SqlStore::connect(&ConnectOptions::new(url)).await.unwrap())
}

fn config(dir: &Path, smtp_port: Option<u16>) -> NotifyConfig {
    NotifyConfig {
        smtp_host: if smtp_port.is_some() { "127.0.0.1".into() } else { String::new() },
        smtp_port: smtp_port.unwrap_or(587),
        smtp_tls: "none".into(),
        from: "Walkout Demo Market <receipts@walkout.test>".into(),
        outbox_dir: dir.join("outbox").display().to_string(),
        vapid_key_file: dir.join("vapid.pem").display().to_string(),
        ..NotifyConfig::default()
    }
}

mod mime {
    //! Just enough MIME to read back a `multipart/alternative` message.
    use base64::Engine;

    pub struct Part {
        pub headers: Vec<(String, String)>,
        pub body: String,
    }

    impl Part {
        pub fn parse(raw: &str) -> Self {
            let raw = raw.replace("\r\n", "\n");
            let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
            let mut headers: Vec<(String, String)> = Vec::new();
            for line in head.lines() {
                if line.starts_with([' ', '\t']) {
                    headers.last_mut().expect("continuation after a header").1.push_str(line.trim_start());
                } else if let Some((name, value)) = line.split_once(':') {
                    headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
                }
            }
            Self { headers, body: body.to_owned() }
        }

        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
        }

        /// The body with its transfer encoding undone, as UTF-8.
        pub fn text(&self) -> String {
            let bytes = match self.header("content-transfer-encoding").map(str::to_ascii_lowercase).as_deref() {
                Some("base64") => {
                    let compact: String = self.body.chars().filter(|c| !c.is_whitespace()).collect();
                    base64::engine::general_purpose::STANDARD.decode(compact).expect("base64 body")
                }
                Some("quoted-printable") => quoted_printable(&self.body),
                _ => self.body.clone().into_bytes(),
            };
            String::from_utf8(bytes).expect("UTF-8 body")
        }

        /// The parts of a multipart body, split on the Content-Type boundary.
        pub fn parts(&self) -> Vec<Part> {
            let content_type = self.header("content-type").expect("content-type");
            let boundary = content_type.split("boundary=").nth(1).expect("boundary").trim_matches('"');
            let delimiter = format!("--{boundary}");
            let mut sections: Vec<&str> = self.body.split(delimiter.as_str()).collect();
            sections.remove(0); // the preamble
            sections.into_iter().take_while(|s| !s.starts_with("--")).map(|s| Part::parse(s.trim_start())).collect()
        }
    }

    fn quoted_printable(text: &str) -> Vec<u8> {
        let bytes = text.as_bytes();
        let (mut out, mut i) = (Vec::new(), 0);
        while i < bytes.len() {
            match bytes[i] {
                b'=' if bytes.get(i + 1) == Some(&b'\n') => i += 2,
                b'=' if i + 2 < bytes.len() => {
                    out.push(u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap(), 16).unwrap());
                    i += 3;
                }
                b => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        out
    }
}

/// Checks one received receipt e-mail; returns (text, html).
fn check_receipt_email(raw: &str) -> (String, String) {
    let message = mime::Part::parse(raw);
    assert_eq!(message.header("from"), Some("\"Walkout Demo Market\" <receipts@walkout.test>"));
    assert_eq!(message.header("to"), Some("ana@example.com"));
    assert_eq!(message.header("subject"), Some("Your receipt no. 1042 from Walkout Demo Market"));
    assert!(message.header("content-type").unwrap().starts_with("multipart/alternative"), "{raw}");
    let parts = message.parts();
    let of_type = |t: &str| {
        parts.iter().find(|p| p.header("content-type").is_some_and(|c| c.starts_with(t))).map(mime::Part::text)
    };
    let text = of_type("text/plain").expect("a text/plain part");
    let html = of_type("text/html").expect("a text/html part");
    for part in [&text, &html] {
        for needle in ["6.27", "DE123456789", "Receipt no. 1042", "4242", "Friedrichstraße 123", "Äpfel 1,5 kg"] {
            assert!(part.contains(needle), "{needle:?} missing from\n{part}");
        }
    }
    assert!(text.contains("TOTAL EUR") && html.contains("TOTAL EUR"));
    assert!(html.contains("<table") && html.contains("</html>"), "{html}");
    (text, html)
}

#[tokio::test]
async fn a_receipt_goes_through_a_real_smtp_server() {
    let Some(python) = python_or_skip("a_receipt_goes_through_a_real_smtp_server") else { return };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = SmtpServer::start(&python, port, dir.path()).await;
    let storage = store(dir.path()).await;
    let parts = notify::from_config(&config(dir.path(), Some(port)), storage.clone()).unwrap();

    let queued = parts.notifier.enqueue_receipt("r-1", &receipt(), Some("ana@example.com"), &[], T0).await.unwrap();
    assert_eq!(queued.queued, vec!["receipt:r-1:email".to_owned()]);
    assert!(server.received().is_empty(), "enqueueing never sends");
    let report = parts.worker.run_once(T0).await.unwrap();
    assert_eq!((report.sent, report.retrying, report.gave_up), (1, 0, 0));

    let received = server.received();
    assert_eq!(received.len(), 1);
    let envelope = mime::Part::parse(&received[0]);
    assert_eq!(envelope.header("x-mailfrom"), Some("receipts@walkout.test"));
    assert_eq!(envelope.header("x-rcptto"), Some("ana@example.com"));
    check_receipt_email(&received[0]);
    let stored = storage.get_outbox("receipt:r-1:email").await.unwrap().unwrap();
    assert_eq!((OutboxState::of(&stored), stored.attempts), (OutboxState::Sent, 1));
    // Sent once: another pass sends nothing.
    assert_eq!(parts.worker.run_once(T0 + 3_600_000).await.unwrap().handled(), 0);
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn without_an_smtp_host_the_receipt_is_written_as_an_eml_file() {
    let dir = tempfile::tempdir().unwrap();
    let storage = store(dir.path()).await;
    let parts = notify::from_config(&config(dir.path(), None), storage.clone()).unwrap();
    parts.notifier.enqueue_receipt("r-1", &receipt(), Some("ana@example.com"), &[], T0).await.unwrap();
    assert_eq!(parts.worker.run_once(T0).await.unwrap().sent, 1);

    let files: Vec<PathBuf> =
        std::fs::read_dir(dir.path().join("outbox")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files, vec![dir.path().join("outbox/receipt_r-1_email.eml")], "one file, no temporary left");
    check_receipt_email(&std::fs::read_to_string(&files[0]).unwrap());
}

#[tokio::test]
async fn a_closed_port_keeps_the_message_queued_until_the_server_is_up() {
    let Some(python) = python_or_skip("a_closed_port_keeps_the_message_queued_until_the_server_is_up") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port(); // nothing listens there yet
    let storage = store(dir.path()).await;
    let parts = notify::from_config(&config(dir.path(), Some(port)), storage.clone()).unwrap();
    parts.notifier.enqueue_receipt("r-1", &receipt(), Some("ana@example.com"), &[], T0).await.unwrap();

    assert_eq!(parts.worker.run_once(T0).await.unwrap().retrying, 1);
    let m = storage.get_outbox("receipt:r-1:email").await.unwrap().unwrap();
    assert_eq!((OutboxState::of(&m), m.attempts, m.next_attempt_at), (OutboxState::Pending, 1, T0 + 10_000));
    let error = m.last_error.unwrap();
    assert!(error.starts_with("SMTP: ") && error.to_lowercase().contains("refused"), "{error}");
    assert_eq!(parts.worker.run_once(T0 + 9_999).await.unwrap().handled(), 0, "not due before the backoff");

    let server = SmtpServer::start(&python, port, dir.path()).await;
    assert_eq!(parts.worker.run_once(T0 + 10_000).await.unwrap().sent, 1);
    let m = storage.get_outbox("receipt:r-1:email").await.unwrap().unwrap();
    assert_eq!((OutboxState::of(&m), m.attempts, m.last_error), (OutboxState::Sent, 2, None));
    assert_eq!(server.received().len(), 1);
    check_receipt_email(&server.received()[0]);
}
