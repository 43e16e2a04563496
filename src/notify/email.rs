//! Receipt e-mail: the `multipart/alternative` message (the text rendering
//! of `checkout::render_text` and the HTML of [`super::html`]) and the
//! [`Mailer`] trait that delivers it, with an SMTP relay implementation
//! ([`SmtpMailer`]), a folder of `.eml` files for when no relay is set
//! ([`FolderMailer`]) and an in-memory fake for tests ([`MemoryMailer`]).

use super::{NotifyError, error_chain, html};
use crate::checkout::{Receipt, ReceiptKind, render_text};
use crate::config::NotifyConfig;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::response::Category;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Parses an address (`a@b.example` or `Name <a@b.example>`).
pub fn parse_mailbox(text: &str) -> Result<Mailbox, NotifyError> {
    text.trim().parse().map_err(|e: lettre::address::AddressError| NotifyError::Address {
        address: text.to_owned(),
        reason: e.to_string(),
    })
}

/// The subject line: says what it is, its number and who sold.
pub fn subject(receipt: &Receipt) -> String {
    match receipt.kind {
        ReceiptKind::Sale => format!("Your receipt no. {} from {}", receipt.number, receipt.seller.name),
        ReceiptKind::Refund { .. } => format!("Your refund no. {} from {}", receipt.number, receipt.seller.name),
    }
}

/// Builds the receipt e-mail. `message_key` (the outbox id) makes the
/// Message-ID stable, so a resend after a lost reply is the same message to
/// the receiving side; the Date is the receipt's issue time.
pub fn receipt_email(
    from: &Mailbox,
    to: &Mailbox,
    message_key: &str,
    receipt: &Receipt,
) -> Result<Message, NotifyError> {
    let local: String =
        message_key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '.' }).collect();
    let local = local.split('.').filter(|s| !s.is_empty()).collect::<Vec<_>>().join(".");
    let message_id = format!("<{local}@{}>", from.email.domain());
    Message::builder()
        .from(from.clone())
        .to(to.clone())
        .subject(subject(receipt))
        .date(SystemTime::from(receipt.issued_at))
        .message_id(Some(message_id))
        .multipart(MultiPart::alternative_plain_html(render_text(receipt), html::render_html(receipt)))
        .map_err(|e| NotifyError::Build(e.to_string()))
}

/// Delivers one e-mail. `key` names the message (the outbox id) for files
/// and logs; delivering the same key twice may deliver twice.
#[async_trait::async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, key: &str, message: &Message) -> Result<(), NotifyError>;
    /// Where mail goes, for logs (`smtp://host:port`, `folder:PATH`).
    fn describe(&self) -> String;
}

/// How the connection to the relay is protected (`notify.smtp_tls`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    StartTls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
    /// No encryption: local relays and tests only.
    None,
}

impl std::str::FromStr for SmtpTls {
    type Err = NotifyError;
    fn from_str(s: &str) -> Result<Self, NotifyError> {
        match s {
            "starttls" => Ok(Self::StartTls),
            "tls" => Ok(Self::Tls),
            "none" => Ok(Self::None),
            _ => Err(NotifyError::Config {
                key: "notify.smtp_tls",
                reason: "must be `starttls`, `tls` or `none`".into(),
            }),
        }
    }
}

/// Sends through an SMTP relay (`notify.smtp_*`), over a pooled async connection.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    target: String,
}

impl SmtpMailer {
    /// How long one SMTP command may take before the attempt counts as failed.
    pub const TIMEOUT: Duration = Duration::from_secs(30);

    pub fn new(config: &NotifyConfig) -> Result<Self, NotifyError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let host = config.smtp_host.trim();
        if host.is_empty() {
            return Err(NotifyError::Config { key: "notify.smtp_host", reason: "is empty".into() });
        }
        let relay_err = |e: lettre::transport::smtp::Error| NotifyError::Config {
            key: "notify.smtp_host",
            reason: format!("cannot set up TLS for {host}: {e}"),
        };
        let tls = config.smtp_tls.parse::<SmtpTls>()?;
        let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if tls == SmtpTls::None && !config.smtp_username.is_empty() && !loopback {
            return Err(NotifyError::Config {
                key: "notify.smtp_tls",
                reason: format!("`none` would send the SMTP password to {host} unencrypted; use `starttls` or `tls`"),
            });
        }
        let builder = match tls {
            SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(relay_err)?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(relay_err)?,
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        };
        let mut builder = builder.port(config.smtp_port).timeout(Some(Self::TIMEOUT));
        if !config.smtp_username.is_empty() {
            let password = config.smtp_password.expose().to_owned();
            builder = builder.credentials(Credentials::new(config.smtp_username.clone(), password));
        }
        let target = format!("smtp://{host}:{} ({})", config.smtp_port, config.smtp_tls);
        Ok(Self { transport: builder.build(), target })
    }
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, _key: &str, message: &Message) -> Result<(), NotifyError> {
        self.transport.send(message.clone()).await.map(|_| ()).map_err(|e| {
            // 5.5.x is about this mailbox (unknown user, refused): retrying cannot help.
            // Anything else (connection, TLS, auth, 4xx) may heal, so it is retried.
            let permanent = e.is_permanent() && e.status().is_some_and(|c| c.category == Category::MailSystem);
            NotifyError::Smtp { permanent, reason: error_chain(&e) }
        })
    }

    fn describe(&self) -> String {
        self.target.clone()
    }
}

/// Writes each e-mail as `<key>.eml` into a folder (`notify.outbox_dir`),
/// atomically: a temporary file beside it, synced, then renamed, so a reader
/// never sees half a message. A resend replaces the file. Files are mode
/// 0600: a receipt is personal data.
pub struct FolderMailer {
    dir: PathBuf,
}

impl FolderMailer {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The file a message with this key is written to.
    pub fn path_for(&self, key: &str) -> PathBuf {
        let name: String =
            key.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
        self.dir.join(format!("{name}.eml"))
    }
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600); // receipts are personal data
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[async_trait::async_trait]
impl Mailer for FolderMailer {
    async fn send(&self, key: &str, message: &Message) -> Result<(), NotifyError> {
        let (dir, path, bytes) = (self.dir.clone(), self.path_for(key), message.formatted());
        let target = path.clone();
        tokio::task::spawn_blocking(move || write_atomically(&dir, &path, &bytes))
            .await
            .map_err(|e| NotifyError::Io { path: target.clone(), reason: e.to_string() })?
            .map_err(|e| NotifyError::Io { path: target, reason: e.to_string() })
    }

    fn describe(&self) -> String {
        format!("folder:{}", self.dir.display())
    }
}

/// A fake [`Mailer`] for tests: keeps every message, and fails the next
/// `fail_next` sends with a transient error.
#[derive(Default)]
pub struct MemoryMailer {
    sent: Mutex<Vec<(String, Message)>>,
    failures: Mutex<u32>,
}

impl MemoryMailer {
    /// The keys and raw bytes of the messages sent so far.
    pub fn sent(&self) -> Vec<(String, Vec<u8>)> {
        self.sent.lock().expect("not poisoned").iter().map(|(k, m)| (k.clone(), m.formatted())).collect()
    }

    pub fn fail_next(&self, n: u32) {
        *self.failures.lock().expect("not poisoned") = n;
    }
}

#[async_trait::async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, key: &str, message: &Message) -> Result<(), NotifyError> {
        {
            let mut failures = self.failures.lock().expect("not poisoned");
            if *failures > 0 {
                *failures -= 1;
                return Err(NotifyError::Smtp { permanent: false, reason: "injected failure".into() });
            }
        }
        self.sent.lock().expect("not poisoned").push((key.to_owned(), message.clone()));
        Ok(())
    }

    fn describe(&self) -> String {
        "memory".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::html::tests::receipt;

    #[test]
    fn the_message_is_multipart_alternative_with_headers_from_the_receipt() {
        let from = parse_mailbox("Walkout receipts <receipts@shop.example>").unwrap();
        let to = parse_mailbox("ana@example.com").unwrap();
        let message = receipt_email(&from, &to, "receipt:r-1:email", &receipt("Demo Market")).unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        for needle in [
            "From: \"Walkout receipts\" <receipts@shop.example>",
            "To: ana@example.com",
            "Subject: Your receipt no. 1042 from Demo Market",
            "Message-ID: <receipt.r-1.email@shop.example>",
            "Date: Fri, 03 May 2024 10:21:07 +0000",
            "Content-Type: multipart/alternative",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Type: text/html; charset=utf-8",
        ] {
            assert!(raw.contains(needle), "{needle:?} missing from\n{raw}");
        }
        assert!(parse_mailbox("not an address").is_err());
        assert!("ssl".parse::<SmtpTls>().is_err());
    }

    #[test]
    fn a_password_is_never_sent_in_clear_to_a_remote_relay() {
        let config = |host: &str| NotifyConfig {
            smtp_host: host.into(),
            smtp_tls: "none".into(),
            smtp_username: "walkout".into(),
            smtp_password: crate::config::Secret::new("hunter2"),
            ..NotifyConfig::default()
        };
        let err = SmtpMailer::new(&config("smtp.example.com")).err().expect("refused");
        assert!(err.to_string().contains("notify.smtp_tls") && !err.to_string().contains("hunter2"), "{err}");
        assert!(SmtpMailer::new(&config("127.0.0.1")).is_ok());
        let starttls = NotifyConfig { smtp_tls: "starttls".into(), ..config("smtp.example.com") };
        assert_eq!(SmtpMailer::new(&starttls).unwrap().describe(), "smtp://smtp.example.com:587 (starttls)");
    }

    #[tokio::test]
    async fn the_folder_mailer_writes_whole_files_named_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = FolderMailer::new(dir.path().join("outbox"));
        let from = parse_mailbox("receipts@shop.example").unwrap();
        let message = receipt_email(&from, &from, "k", &receipt("Demo")).unwrap();
        mailer.send("receipt:r/1:email", &message).await.unwrap();
        mailer.send("receipt:r/1:email", &message).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path().join("outbox")).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(files, vec![dir.path().join("outbox/receipt_r_1_email.eml")]);
        assert_eq!(std::fs::read(&files[0]).unwrap(), message.formatted());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&files[0]).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
