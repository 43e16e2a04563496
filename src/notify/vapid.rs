//! VAPID (RFC 8292): the server's P-256 key, kept in `notify.vapid_key_file`
//! (PKCS#8 or SEC1 PEM; created with mode 0600 on first use), and the ES256
//! JWT that proves to a push service which server sends. The public half,
//! base64url, is the `applicationServerKey` the app subscribes with.

use super::NotifyError;
use crate::db::Millis;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::SecretKey;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use std::io::Write;
use std::path::{Path, PathBuf};

/// How long a token is valid: RFC 8292 allows at most 24 hours; push
/// services reject tokens that end too far ahead, so stay well inside.
pub const TOKEN_LIFETIME_S: i64 = 12 * 3600;

/// The server's VAPID key pair.
#[derive(Clone)]
pub struct VapidKey {
    signing: SigningKey,
    /// Uncompressed public point, base64url without padding.
    public_b64: String,
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidKey").field("public", &self.public_b64).field("private", &"[redacted]").finish()
    }
}

impl VapidKey {
    pub fn from_secret(secret: &SecretKey) -> Self {
        let public = super::ece::public_bytes(&secret.public_key());
        Self { signing: SigningKey::from(secret), public_b64: URL_SAFE_NO_PAD.encode(public) }
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        Self::from_secret(&super::ece::random_secret_key())
    }

    /// Parses a PKCS#8 (`BEGIN PRIVATE KEY`) or SEC1 (`BEGIN EC PRIVATE KEY`)
    /// PEM; an `EC PARAMETERS` block before it (as `openssl ecparam -genkey`
    /// writes) is skipped. A bare base64url 32-octet private key (what the
    /// `web-push` tools print) is accepted too.
    pub fn from_pem(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        if !trimmed.contains("-----BEGIN") {
            let raw = URL_SAFE_NO_PAD.decode(trimmed).map_err(|_| "neither PEM nor a base64url key".to_owned())?;
            let secret = SecretKey::from_slice(&raw).map_err(|_| "not a P-256 private key".to_owned())?;
            return Ok(Self::from_secret(&secret));
        }
        let block = ["-----BEGIN PRIVATE KEY-----", "-----BEGIN EC PRIVATE KEY-----"]
            .iter()
            .filter_map(|begin| trimmed.find(begin))
            .min()
            .map(|start| &trimmed[start..])
            .ok_or_else(|| "no PRIVATE KEY or EC PRIVATE KEY block".to_owned())?;
        let end = block.find("-----END").and_then(|e| block[e..].find("KEY-----").map(|k| e + k + 8));
        let block = end.map_or(block, |e| &block[..e]);
        let secret = SecretKey::from_pem(block).map_err(|e| format!("not a P-256 private key: {e}"))?;
        Ok(Self::from_secret(&secret))
    }

    /// The private key as PKCS#8 PEM, for saving.
    pub fn to_pem(&self) -> Result<String, String> {
        let secret = SecretKey::from(&self.signing);
        secret.to_pkcs8_pem(LineEnding::LF).map(|pem| pem.to_string()).map_err(|e| e.to_string())
    }

    /// Loads the key file, or creates it (mode 0600, parent folders too) when
    /// missing. Blocking file I/O: call at start, not from a hot path. Two
    /// processes starting at once end up with the same key: the file is
    /// written aside and linked into place only if still absent.
    pub fn load_or_create(path: &Path) -> Result<Self, NotifyError> {
        let err = |reason: String| NotifyError::VapidKey { path: path.to_owned(), reason };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                warn_if_readable_by_others(path);
                return Self::from_pem(&text).map_err(err);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(e.to_string())),
        }
        let key = Self::generate();
        let pem = key.to_pem().map_err(err)?;
        match write_new_private_file(path, pem.as_bytes()) {
            Ok(true) => {
                tracing::info!(path = %path.display(), public_key = %key.public_key_b64(), "created a VAPID key");
                Ok(key)
            }
            // Someone else created it meanwhile: theirs wins.
            Ok(false) => Self::from_pem(&std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?).map_err(err),
            Err(e) => Err(err(e.to_string())),
        }
    }

    /// The `applicationServerKey` for `PushManager.subscribe`: the
    /// uncompressed public point, base64url without padding.
    pub fn public_key_b64(&self) -> &str {
        &self.public_b64
    }

    /// A signed ES256 JWT for `audience` (the push endpoint's origin).
    pub fn jwt(&self, audience: &str, subject: &str, expires_at_s: i64) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({ "aud": audience, "exp": expires_at_s, "sub": subject });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{claims}");
        let signature: Signature = self.signing.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    /// The `Authorization` header value for a push to `endpoint` at `now`:
    /// `vapid t=<jwt>, k=<public key>` (RFC 8292 section 3).
    pub fn authorization(&self, endpoint: &str, subject: &str, now: Millis) -> Result<String, NotifyError> {
        let audience = audience(endpoint)?;
        let jwt = self.jwt(&audience, subject, now / 1000 + TOKEN_LIFETIME_S);
        Ok(format!("vapid t={jwt}, k={}", self.public_b64))
    }
}

/// The origin of a push endpoint (`https://push.example.net`, with the port
/// only when it is not the scheme's default): the JWT's `aud`.
pub fn audience(endpoint: &str) -> Result<String, NotifyError> {
    let url = reqwest::Url::parse(endpoint)
        .map_err(|e| NotifyError::Subscription(format!("the endpoint is not a URL: {e}")))?;
    let origin = url.origin();
    if !origin.is_tuple() {
        return Err(NotifyError::Subscription("the endpoint has no http(s) origin".into()));
    }
    Ok(origin.ascii_serialization())
}

/// Writes `bytes` to `path` with mode 0600 unless `path` exists: written to
/// a temporary file beside it, synced, then hard-linked into place (which
/// never replaces). Returns false when `path` already existed.
fn write_new_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp: PathBuf = dir.join(format!(".vapid-{}.tmp", uuid::Uuid::new_v4().simple()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        match std::fs::hard_link(&tmp, path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "the VAPID key file is readable by others; chmod 600 it");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier;

    fn decode_json(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn the_jwt_verifies_with_the_published_public_key() {
        let key = VapidKey::generate();
        let now: Millis = 1_714_731_667_000;
        let header = key.authorization("https://push.example.net:8443/wpush/v2/abc?x=1", "mailto:ops@example.com", now);
        let header = header.unwrap();
        let (t, k) = header.strip_prefix("vapid t=").unwrap().split_once(", k=").unwrap();
        assert_eq!(k, key.public_key_b64());
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(decode_json(parts[0]), serde_json::json!({"typ": "JWT", "alg": "ES256"}));
        let claims = decode_json(parts[1]);
        assert_eq!(claims["aud"], "https://push.example.net:8443");
        assert_eq!(claims["sub"], "mailto:ops@example.com");
        let exp = claims["exp"].as_i64().unwrap();
        assert!(exp > now / 1000 && exp <= now / 1000 + 24 * 3600, "{exp}");

        let public = URL_SAFE_NO_PAD.decode(k).unwrap();
        assert_eq!(public.len(), 65);
        let verifying = VerifyingKey::from_sec1_bytes(&public).unwrap();
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
        let signed = format!("{}.{}", parts[0], parts[1]);
        verifying.verify(signed.as_bytes(), &signature).unwrap();
        assert!(verifying.verify(b"something else", &signature).is_err());
        assert!(VapidKey::generate().authorization("no url", "mailto:x@y", now).is_err());
    }

    #[test]
    fn audience_is_the_origin() {
        assert_eq!(audience("https://fcm.googleapis.com/fcm/send/abc").unwrap(), "https://fcm.googleapis.com");
        assert_eq!(audience("https://h.example:443/x").unwrap(), "https://h.example");
        assert_eq!(audience("http://127.0.0.1:4000/push/1").unwrap(), "http://127.0.0.1:4000");
        assert!(audience("data:text/plain,hi").is_err());
    }

    #[test]
    fn the_key_file_is_created_private_and_read_back_in_every_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/vapid.pem");
        let created = VapidKey::load_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("-----BEGIN PRIVATE KEY-----"), "{text}");
        let loaded = VapidKey::load_or_create(&path).unwrap();
        assert_eq!(loaded.public_key_b64(), created.public_key_b64());
        assert!(!format!("{loaded:?}").contains(text.lines().nth(1).unwrap()));

        // SEC1 with the EC PARAMETERS block openssl writes, and a bare base64url scalar.
        let secret = SecretKey::from(&created.signing);
        let sec1 = secret.to_sec1_pem(LineEnding::LF).unwrap();
        let openssl =
            format!("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n{}", *sec1);
        assert_eq!(VapidKey::from_pem(&openssl).unwrap().public_key_b64(), created.public_key_b64());
        let raw = URL_SAFE_NO_PAD.encode(secret.to_bytes());
        assert_eq!(VapidKey::from_pem(&raw).unwrap().public_key_b64(), created.public_key_b64());
        assert!(VapidKey::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----").is_err());

        std::fs::write(&path, "garbage").unwrap();
        assert!(matches!(VapidKey::load_or_create(&path), Err(NotifyError::VapidKey { .. })));
    }
}
