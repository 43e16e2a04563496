//! Configuration: one typed struct, read from a TOML file and then from
//! `WALKOUT_<SECTION>_<KEY>` environment variables (which win). No file and
//! no variables means the embedded defaults: a SQLite file under `data/`, an
//! in-process MQTT broker, the sandbox payment provider. Invalid values fail
//! at start with a message that names the key. Secrets never print.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A secret string (password, API key): redacted in `Debug`, `Display` and
/// serialisation, so it cannot leak into logs.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The secret itself; call only where it is handed to the service that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub store: StoreConfig,
    pub database: DatabaseConfig,
    pub http: HttpConfig,
    pub mqtt: MqttConfig,
    pub onnxruntime: OnnxRuntimeConfig,
    pub payments: PaymentsConfig,
    pub notify: NotifyConfig,
    pub fusion: FusionConfig,
    pub review: ReviewConfig,
    pub log: LogConfig,
}

/// Who-took-what decisions and the review policy (chosen from the
/// simulator's curves: `walkout bench accuracy`, docs/fusion.md).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FusionConfig {
    /// A cart event under this confidence sends the visit to staff review.
    pub review_below_confidence: f64,
    /// Below this probability for the best visit, a shelf event is flagged as unattributed.
    pub min_attribution_p: f64,
    /// Shelf events settling this many seconds after a visit left still go on its cart.
    pub grace_s: f64,
    /// A shopper who came in alone whose track then takes an item looking
    /// further than this (clothing embedding, `(1 - cos) / 2`) from how it
    /// looked at the entrance sends the visit to staff (the tracker may have
    /// swapped shoppers), with the visit it now looks like.
    pub look_changed_above: f64,
}

impl Default for FusionConfig {
    fn default() -> Self {
        Self { review_below_confidence: 0.9, min_attribution_p: 0.6, grace_s: 6.0, look_changed_above: 0.15 }
    }
}

/// The staff console (`/console/`): evidence of flagged visits and staff logins.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReviewConfig {
    /// Where evidence of flagged visits (camera crops, weight traces) is kept.
    pub evidence_dir: String,
    /// Evidence older than this is deleted by a background job (hours).
    pub retention_hours: u64,
    /// How long a staff login lasts (minutes).
    pub session_minutes: u64,
    /// Failed logins in a row that lock a staff account...
    pub max_failed_logins: u32,
    /// ...for this many minutes.
    pub lockout_minutes: u64,
}

impl Default for ReviewConfig {
    fn default() -> Self {
        Self {
            evidence_dir: "data/evidence".into(),
            retention_hours: 72,
            session_minutes: 480,
            max_failed_logins: 5,
            lockout_minutes: 15,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentsConfig {
    /// `sandbox` (a card-processor simulator, the default) or `stripe`.
    pub provider: String,
    /// Pre-authorisation hold per member of the party, in the store currency's minor units.
    pub hold_per_person_minor: i64,
    /// Disputed lines up to this amount (minor units) are refunded at once; above it, staff review.
    pub auto_refund_max_minor: i64,
    /// The sandbox provider's own ledger (SQLite), so it remembers across restarts.
    pub sandbox_ledger: String,
    /// Stripe secret API key (`sk_live_...` / `sk_test_...`).
    pub stripe_secret_key: Secret,
    pub stripe_api_base: String,
    /// Signing secret of the Stripe webhook endpoint (`whsec_...`).
    pub stripe_webhook_secret: Secret,
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        Self {
            provider: "sandbox".into(),
            hold_per_person_minor: 5_000,
            auto_refund_max_minor: 500,
            sandbox_ledger: "data/sandbox-provider.db".into(),
            stripe_secret_key: Secret::default(),
            stripe_api_base: "https://api.stripe.com".into(),
            stripe_webhook_secret: Secret::default(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// SMTP relay for receipt e-mails; empty: e-mails are written to `outbox_dir`.
    pub smtp_host: String,
    pub smtp_port: u16,
    /// `starttls`, `tls` (implicit, port 465) or `none` (local relays and tests only).
    pub smtp_tls: String,
    pub smtp_username: String,
    pub smtp_password: Secret,
    /// The From: of receipt e-mails.
    pub from: String,
    /// Where e-mails go when no SMTP host is set (one .eml file each).
    pub outbox_dir: String,
    /// VAPID private key (PEM, P-256) for Web Push; created on first use when missing.
    pub vapid_key_file: String,
    /// VAPID `sub` claim: a mailto: or https: contact for push services.
    pub vapid_subject: String,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            smtp_host: String::new(),
            smtp_port: 587,
            smtp_tls: "starttls".into(),
            smtp_username: String::new(),
            smtp_password: Secret::default(),
            from: "walkout receipts <receipts@walkout.invalid>".into(),
            outbox_dir: "data/outbox".into(),
            vapid_key_file: "data/vapid-private.pem".into(),
            vapid_subject: "mailto:operations@walkout.invalid".into(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// The folder with the store's calibration, catalogue and planogram.
    pub calibration_dir: PathBuf,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self { calibration_dir: PathBuf::from("calibration/demo-store") }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` (created when missing) or `postgres://USER@HOST:PORT/DB`.
    pub url: Secret,
    /// Give up connecting after this many seconds.
    pub connect_timeout_s: u64,
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self { url: Secret::new("sqlite://data/walkout.db"), connect_timeout_s: 5, max_connections: 8 }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address the API and consoles listen on.
    pub listen: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self { listen: "127.0.0.1:8080".into() }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// `embedded` runs an in-process broker; `external` connects to `host:port`.
    pub mode: String,
    pub host: String,
    pub port: u16,
    pub tls: bool,
    /// PEM file of the CA certificates trusted for TLS.
    pub ca_file: String,
    pub username: String,
    pub password: Secret,
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            mode: "embedded".into(),
            host: "127.0.0.1".into(),
            port: 1883,
            tls: false,
            ca_file: "/etc/ssl/certs/ca-certificates.crt".into(),
            username: String::new(),
            password: Secret::default(),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OnnxRuntimeConfig {
    /// Path of `libonnxruntime.so`; empty = `ORT_DYLIB_PATH`, then the
    /// project's own install under `.local/onnxruntime/`.
    pub library_path: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `human` or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `walkout=debug,sqlx=warn`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { format: "human".into(), level: "info,rumqttd=warn".into() }
    }
}

/// Why the configuration was refused; every variant names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("config key `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
}

const SECTIONS: &[&str] =
    &["store", "database", "http", "mqtt", "onnxruntime", "payments", "notify", "fusion", "review", "log"];

impl Config {
    /// Reads `path` if given (it must exist), else `walkout.toml` in the
    /// working directory if present; then applies the `WALKOUT_*` variables
    /// from `env`; then validates.
    pub fn load(path: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let (text, origin) = match path {
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|source| ConfigError::Read { path: p.to_owned(), source })?;
                (text, p.to_owned())
            }
            None => match std::fs::read_to_string("walkout.toml") {
                Ok(text) => (text, PathBuf::from("walkout.toml")),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => (String::new(), PathBuf::from("(defaults)")),
                Err(source) => return Err(ConfigError::Read { path: "walkout.toml".into(), source }),
            },
        };
        Self::from_toml_and_env(&text, &origin, env)
    }

    /// The same as [`Config::load`] from TOML text already read.
    pub fn from_toml_and_env(
        text: &str,
        origin: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let parse_err = |message: String| ConfigError::Parse { path: origin.to_owned(), message };
        // Typed parse of the file alone first: its errors carry the line and the key.
        let _: Config = toml::from_str(text).map_err(|e| parse_err(e.to_string()))?;
        let mut table: toml::Table = toml::from_str(text).map_err(|e| parse_err(e.to_string()))?;
        let defaults = toml::Table::try_from(Config::default()).expect("defaults serialise");
        for (var, value) in env {
            apply_env(&mut table, &defaults, &var, &value)?;
        }
        let config: Config =
            toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| parse_err(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: &str| Err(ConfigError::Invalid { key, reason: reason.to_owned() });
        let url = self.database.url.expose();
        if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return invalid("database.url", "must start with sqlite:// or postgres://");
        }
        if self.database.connect_timeout_s == 0 || self.database.connect_timeout_s > 300 {
            return invalid("database.connect_timeout_s", "must be between 1 and 300 seconds");
        }
        if self.database.max_connections == 0 {
            return invalid("database.max_connections", "must be at least 1");
        }
        if self.http.listen.parse::<std::net::SocketAddr>().is_err() {
            return invalid("http.listen", "must be an address such as 127.0.0.1:8080");
        }
        if !matches!(self.mqtt.mode.as_str(), "embedded" | "external") {
            return invalid("mqtt.mode", "must be `embedded` or `external`");
        }
        if self.mqtt.port == 0 {
            return invalid("mqtt.port", "must be a port number from 1 to 65535");
        }
        if !matches!(self.payments.provider.as_str(), "sandbox" | "stripe") {
            return invalid("payments.provider", "must be `sandbox` or `stripe`");
        }
        if self.payments.provider == "stripe" && self.payments.stripe_secret_key.expose().is_empty() {
            return invalid("payments.stripe_secret_key", "is required when payments.provider = \"stripe\"");
        }
        if self.payments.auto_refund_max_minor < 0 {
            return invalid(
                "payments.auto_refund_max_minor",
                "must be 0 (always review) or a positive amount in minor units",
            );
        }
        if self.payments.hold_per_person_minor <= 0 {
            return invalid("payments.hold_per_person_minor", "must be a positive amount in minor units");
        }
        if !matches!(self.notify.smtp_tls.as_str(), "starttls" | "tls" | "none") {
            return invalid("notify.smtp_tls", "must be `starttls`, `tls` or `none`");
        }
        if !self.notify.from.contains('@') {
            return invalid("notify.from", "must be an e-mail address, e.g. `Shop <receipts@shop.example>`");
        }
        if !(0.0..=1.0).contains(&self.fusion.review_below_confidence) {
            return invalid("fusion.review_below_confidence", "must be between 0 and 1");
        }
        if !(0.0..=1.0).contains(&self.fusion.min_attribution_p) {
            return invalid("fusion.min_attribution_p", "must be between 0 and 1");
        }
        if !(0.0..=600.0).contains(&self.fusion.grace_s) {
            return invalid("fusion.grace_s", "must be between 0 and 600 seconds");
        }
        if !(0.0..=1.0).contains(&self.fusion.look_changed_above) {
            return invalid("fusion.look_changed_above", "must be between 0 and 1");
        }
        if !(1..=24 * 365).contains(&self.review.retention_hours) {
            return invalid("review.retention_hours", "must be between 1 hour and 8760 hours (a year)");
        }
        if !(1..=24 * 60).contains(&self.review.session_minutes) {
            return invalid("review.session_minutes", "must be between 1 and 1440 minutes");
        }
        if self.review.max_failed_logins == 0 {
            return invalid("review.max_failed_logins", "must be at least 1");
        }
        if !(1..=24 * 60).contains(&self.review.lockout_minutes) {
            return invalid("review.lockout_minutes", "must be between 1 and 1440 minutes");
        }
        if self.review.evidence_dir.trim().is_empty() {
            return invalid("review.evidence_dir", "must name a folder");
        }
        if !matches!(self.log.format.as_str(), "human" | "json") {
            return invalid("log.format", "must be `human` or `json`");
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return invalid("log.level", "must be a tracing filter such as `info` or `walkout=debug`");
        }
        Ok(())
    }
}

/// Applies one `WALKOUT_SECTION_KEY=value` variable; other variables are ignored.
/// The value takes the type of the default at that key (number, bool, string).
fn apply_env(table: &mut toml::Table, defaults: &toml::Table, var: &str, value: &str) -> Result<(), ConfigError> {
    let Some(rest) = var.strip_prefix("WALKOUT_") else { return Ok(()) };
    let lower = rest.to_ascii_lowercase();
    let Some(section) = SECTIONS.iter().find(|s| lower.starts_with(&format!("{s}_"))) else {
        return Ok(()); // WALKOUT_CONFIG, WALKOUT_TEST_* and friends are not config keys
    };
    let key = &lower[section.len() + 1..];
    let env_err = |message: String| ConfigError::Env { var: var.to_owned(), message };
    let default = defaults
        .get(*section)
        .and_then(|s| s.get(key))
        .ok_or_else(|| env_err(format!("unknown key `{section}.{key}`")))?;
    let typed = match default {
        toml::Value::Integer(_) => value
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| env_err(format!("`{section}.{key}` must be an integer, got {value:?}")))?,
        toml::Value::Boolean(_) => value
            .trim()
            .parse::<bool>()
            .map(toml::Value::Boolean)
            .map_err(|_| env_err(format!("`{section}.{key}` must be true or false, got {value:?}")))?,
        _ => toml::Value::String(value.to_owned()),
    };
    let entry = table.entry(section.to_string()).or_insert_with(|| toml::Value::Table(Default::default()));
    let toml::Value::Table(section_table) = entry else {
        return Err(env_err(format!("`{section}` in the config file is not a table")));
    };
    section_table.insert(key.to_owned(), typed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Config::from_toml_and_env(text, Path::new("test.toml"), env)
    }

    #[test]
    fn no_file_and_no_env_gives_embedded_defaults() {
        let c = load("", &[]).unwrap();
        assert_eq!(c.database.url.expose(), "sqlite://data/walkout.db");
        assert_eq!(c.mqtt.mode, "embedded");
    }

    #[test]
    fn environment_overrides_file_with_typed_values() {
        let c = load(
            "[database]\nconnect_timeout_s = 3\n",
            &[
                ("WALKOUT_DATABASE_CONNECT_TIMEOUT_S", "7"),
                ("WALKOUT_MQTT_TLS", "true"),
                ("WALKOUT_MQTT_PASSWORD", "1234"),
            ],
        )
        .unwrap();
        assert_eq!(c.database.connect_timeout_s, 7);
        assert!(c.mqtt.tls);
        assert_eq!(c.mqtt.password.expose(), "1234");
    }

    #[test]
    fn malformed_toml_names_the_line() {
        let err = load("[database]\nurl = \n", &[]).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn wrong_types_and_unknown_keys_name_the_key() {
        let err = load("[database]\nconnect_timeout_s = \"soon\"\n", &[]).unwrap_err().to_string();
        assert!(err.contains("connect_timeout_s") && err.contains("line 2"), "{err}");
        let err = load("[database]\nurll = \"x\"\n", &[]).unwrap_err().to_string();
        assert!(err.contains("urll"), "{err}");
        let err = load("", &[("WALKOUT_DATABASE_CONNECT_TIMEOUT_S", "soon")]).unwrap_err().to_string();
        assert!(err.contains("WALKOUT_DATABASE_CONNECT_TIMEOUT_S"), "{err}");
        let err = load("", &[("WALKOUT_HTTP_LISTN", "x")]).unwrap_err().to_string();
        assert!(err.contains("http.listn"), "{err}");
    }

    #[test]
    fn invalid_values_name_the_key_and_reason() {
        let err = load("[database]\nurl = \"mysql://x\"\n", &[]).unwrap_err().to_string();
        assert!(err.contains("database.url") && err.contains("sqlite://"), "{err}");
        let err = load("[http]\nlisten = \"nowhere\"\n", &[]).unwrap_err().to_string();
        assert!(err.contains("http.listen"), "{err}");
        let err = load("[log]\nformat = \"xml\"\n", &[]).unwrap_err().to_string();
        assert!(err.contains("log.format"), "{err}");
    }

    #[test]
    fn secrets_never_print() {
        let c = load("[mqtt]\npassword = \"hunter2\"\n[database]\nurl = \"postgres://u:pw@h/db\"\n", &[]).unwrap();
        let shown = format!("{c:?} {}", toml::to_string(&c).unwrap());
        assert!(!shown.contains("hunter2") && !shown.contains("pw@h"), "{shown}");
    }
}
