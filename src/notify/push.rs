//! Web Push delivery (RFC 8030): the [`PushSender`] trait, its HTTP
//! implementation [`WebPushSender`] (VAPID authorisation, RFC 8291
//! `aes128gcm` payload, `TTL` and `Urgency` headers, POST with reqwest) and a
//! fake for tests ([`MemoryPush`]). What the push service answered is a
//! [`PushOutcome`]; the outbox decides what to do with it.

use super::vapid::{VapidKey, audience};
use super::{NotifyError, ece, error_chain};
use crate::db::Millis;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

/// Where to push: a subscription's endpoint and keys (base64url, as the
/// browser's `PushSubscription.toJSON()` gives them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushTarget {
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
}

/// RFC 8030 section 5.3.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Urgency {
    VeryLow,
    Low,
    #[default]
    Normal,
    High,
}

impl Urgency {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VeryLow => "very-low",
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
        }
    }
}

/// Per-message delivery settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushOptions {
    /// How long the push service keeps the message for an offline device, seconds.
    pub ttl_s: u32,
    pub urgency: Urgency,
}

impl Default for PushOptions {
    fn default() -> Self {
        Self { ttl_s: 24 * 3600, urgency: Urgency::Normal }
    }
}

/// What the push service said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushOutcome {
    /// 2xx: accepted for delivery.
    Delivered { status: u16 },
    /// 404 or 410: the subscription expired or was revoked; delete it.
    Gone { status: u16 },
    /// 429 or 5xx: try again later, not before `retry_after` when given.
    Retry { status: u16, retry_after: Option<Duration> },
    /// Any other answer (400, 401, 403, 413, ...): this message will never be accepted.
    Rejected { status: u16, reason: String },
}

impl PushOutcome {
    /// Classifies an HTTP status (and a `Retry-After` header in seconds).
    pub fn from_status(status: u16, retry_after: Option<&str>, body: &str) -> Self {
        match status {
            200..=299 => Self::Delivered { status },
            404 | 410 => Self::Gone { status },
            429 | 500..=599 => Self::Retry {
                status,
                retry_after: retry_after
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(|s| Duration::from_secs(s.min(24 * 3600))),
            },
            _ => Self::Rejected { status, reason: body.chars().take(200).collect() },
        }
    }
}

/// Sends one push message.
#[async_trait::async_trait]
pub trait PushSender: Send + Sync {
    /// Encrypts `payload` for `target` and delivers it; `now` dates the VAPID token.
    /// `Err` is a failure to talk to the push service at all (retried).
    async fn send(
        &self,
        target: &PushTarget,
        payload: &[u8],
        options: &PushOptions,
        now: Millis,
    ) -> Result<PushOutcome, NotifyError>;
}

/// Decodes a base64url key, tolerating padding and the standard alphabet.
pub(crate) fn decode_key(what: &str, text: &str) -> Result<Vec<u8>, NotifyError> {
    let normalised: String = text
        .trim()
        .trim_end_matches('=')
        .chars()
        .map(|c| {
            if c == '+' {
                '-'
            } else if c == '/' {
                '_'
            } else {
                c
            }
        })
        .collect();
    URL_SAFE_NO_PAD.decode(normalised).map_err(|_| NotifyError::Subscription(format!("{what} is not base64url")))
}

/// Delivers over HTTPS with VAPID. Redirects are not followed and plain
/// `http://` endpoints are refused unless allowed (tests), because an
/// endpoint is a URL a browser handed in, and the server must not be made to
/// POST wherever a client likes.
pub struct WebPushSender {
    client: reqwest::Client,
    key: VapidKey,
    subject: String,
    allow_http: bool,
}

impl WebPushSender {
    pub fn new(key: VapidKey, subject: impl Into<String>) -> Result<Self, NotifyError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("walkout/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| NotifyError::Http { origin: "(client)".into(), reason: error_chain(&e) })?;
        Ok(Self { client, key, subject: subject.into(), allow_http: false })
    }

    /// Also accept `http://` endpoints (local test push services only).
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    pub fn public_key_b64(&self) -> &str {
        self.key.public_key_b64()
    }
}

#[async_trait::async_trait]
impl PushSender for WebPushSender {
    async fn send(
        &self,
        target: &PushTarget,
        payload: &[u8],
        options: &PushOptions,
        now: Millis,
    ) -> Result<PushOutcome, NotifyError> {
        let origin = audience(&target.endpoint)?;
        if !(origin.starts_with("https://") || (self.allow_http && origin.starts_with("http://"))) {
            return Err(NotifyError::Subscription(format!("endpoint origin {origin} is not https")));
        }
        let p256dh = decode_key("p256dh", &target.p256dh)?;
        let auth = decode_key("auth", &target.auth)?;
        let body = ece::encrypt(payload, &p256dh, &auth)?;
        let authorization = self.key.authorization(&target.endpoint, &self.subject, now)?;
        let http_err = |e: reqwest::Error| NotifyError::Http { origin: origin.clone(), reason: error_chain(&e) };
        let mut response = self
            .client
            .post(&target.endpoint)
            .header("Authorization", authorization)
            .header("Content-Encoding", "aes128gcm")
            .header("Content-Type", "application/octet-stream")
            .header("TTL", options.ttl_s.to_string())
            .header("Urgency", options.urgency.as_str())
            .body(body)
            .send()
            .await
            .map_err(http_err)?;
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
        // Read at most 1 KiB of an error body, for the log.
        let mut text = Vec::new();
        if !response.status().is_success() {
            while let Ok(Some(chunk)) = response.chunk().await {
                text.extend_from_slice(&chunk);
                if text.len() >= 1024 {
                    break;
                }
            }
        }
        Ok(PushOutcome::from_status(status, retry_after.as_deref(), &String::from_utf8_lossy(&text)))
    }
}

/// A fake [`PushSender`] for tests: records each (target, plaintext,
/// options) and answers from a script, then `Delivered`.
#[derive(Default)]
pub struct MemoryPush {
    sent: Mutex<Vec<(PushTarget, Vec<u8>, PushOptions)>>,
    script: Mutex<VecDeque<PushOutcome>>,
}

impl MemoryPush {
    /// Queues the answers to the next sends.
    pub fn answer(&self, outcomes: impl IntoIterator<Item = PushOutcome>) {
        self.script.lock().expect("not poisoned").extend(outcomes);
    }

    pub fn sent(&self) -> Vec<(PushTarget, Vec<u8>, PushOptions)> {
        self.sent.lock().expect("not poisoned").clone()
    }
}

#[async_trait::async_trait]
impl PushSender for MemoryPush {
    async fn send(
        &self,
        target: &PushTarget,
        payload: &[u8],
        options: &PushOptions,
        _now: Millis,
    ) -> Result<PushOutcome, NotifyError> {
        self.sent.lock().expect("not poisoned").push((target.clone(), payload.to_vec(), *options));
        Ok(self.script.lock().expect("not poisoned").pop_front().unwrap_or(PushOutcome::Delivered { status: 201 }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_as_the_outbox_needs() {
        assert_eq!(PushOutcome::from_status(201, None, ""), PushOutcome::Delivered { status: 201 });
        assert_eq!(PushOutcome::from_status(410, None, ""), PushOutcome::Gone { status: 410 });
        assert_eq!(PushOutcome::from_status(404, None, ""), PushOutcome::Gone { status: 404 });
        assert_eq!(
            PushOutcome::from_status(429, Some("120"), ""),
            PushOutcome::Retry { status: 429, retry_after: Some(Duration::from_secs(120)) }
        );
        assert_eq!(
            PushOutcome::from_status(503, Some("soon"), ""),
            PushOutcome::Retry { status: 503, retry_after: None }
        );
        assert!(matches!(PushOutcome::from_status(413, None, "too big"), PushOutcome::Rejected { status: 413, .. }));
    }

    #[test]
    fn keys_decode_with_or_without_padding() {
        assert_eq!(decode_key("auth", "BTBZMqHH6r4Tts7J_aSIgg").unwrap().len(), 16);
        assert_eq!(decode_key("auth", "BTBZMqHH6r4Tts7J/aSIgg==").unwrap().len(), 16);
        assert!(decode_key("auth", "not base64!").is_err());
    }

    #[tokio::test]
    async fn plain_http_endpoints_are_refused_by_default() {
        let sender = WebPushSender::new(VapidKey::generate(), "mailto:ops@example.com").unwrap();
        let target = PushTarget {
            endpoint: "http://10.0.0.1/push".into(),
            p256dh: "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4".into(),
            auth: "BTBZMqHH6r4Tts7J_aSIgg".into(),
        };
        let err = sender.send(&target, b"{}", &PushOptions::default(), 0).await.unwrap_err();
        assert!(matches!(err, NotifyError::Subscription(_)), "{err}");
    }
}
