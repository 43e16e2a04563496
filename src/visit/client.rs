//! The reference entry client: what the shopper's phone does, in Rust, for
//! tests, the demo and `walkout entry-token`. It holds an Ed25519 device key,
//! draws fresh signed entry tokens and renders them as QR PNGs.

use super::token::{EntryClaims, MAX_LIFETIME_S, sign};
use crate::ids::{DeviceId, ShopperId};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::SigningKey;
use rand::RngExt;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("device key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error("cannot render the QR code: {0}")]
    Qr(String),
}

/// A device's Ed25519 key pair.
pub struct DeviceKey {
    signing: SigningKey,
}

/// Shows the public key only; the secret never prints.
impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceKey").field("public_key", &self.public_key_b64()).finish_non_exhaustive()
    }
}

impl DeviceKey {
    pub fn generate() -> Self {
        let seed: [u8; 32] = rand::rng().random();
        Self { signing: SigningKey::from_bytes(&seed) }
    }

    /// The 32-byte public key, as registered with the account.
    pub fn public_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// The public key as base64url (the accounts API's encoding).
    pub fn public_key_b64(&self) -> String {
        B64.encode(self.public_key())
    }

    /// Reads a key saved by [`DeviceKey::save`] (base64url of the 32-byte seed).
    pub fn load(path: &Path) -> Result<Self, ClientError> {
        let fail = |reason: String| ClientError::KeyFile { path: path.display().to_string(), reason };
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let seed: [u8; 32] = B64
            .decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| fail("expected the base64url of a 32-byte Ed25519 seed".into()))?;
        Ok(Self { signing: SigningKey::from_bytes(&seed) })
    }

    /// Saves the secret seed (base64url), readable by the owner only.
    pub fn save(&self, path: &Path) -> Result<(), ClientError> {
        use std::os::unix::fs::OpenOptionsExt;
        let fail = |reason: String| ClientError::KeyFile { path: path.display().to_string(), reason };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| fail(e.to_string()))?;
        std::io::Write::write_all(&mut file, B64.encode(self.signing.to_bytes()).as_bytes())
            .map_err(|e| fail(e.to_string()))
    }

    /// A fresh token valid for [`MAX_LIFETIME_S`] from `now_s`, with a random `jti`.
    pub fn draw(&self, account: &ShopperId, device: &DeviceId, now_s: i64, guests: u8) -> String {
        let jti: [u8; 16] = rand::rng().random();
        let claims = EntryClaims {
            account: account.clone(),
            device: device.clone(),
            iat: now_s,
            exp: now_s + MAX_LIFETIME_S,
            jti: B64.encode(jti),
            guests,
        };
        sign(&claims, &self.signing)
    }
}

/// The token as a QR code PNG, `scale` pixels per module, with a quiet zone.
pub fn qr_png(token: &str, scale: u32) -> Result<Vec<u8>, ClientError> {
    let code = qrcode::QrCode::with_error_correction_level(token.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| ClientError::Qr(e.to_string()))?;
    let image = code.render::<image::Luma<u8>>().module_dimensions(scale.max(1), scale.max(1)).build();
    let mut png = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| ClientError::Qr(e.to_string()))?;
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::visit::token::parse;

    #[test]
    fn drawn_tokens_verify_with_the_registered_public_key() {
        let key = DeviceKey::generate();
        let token = key.draw(&ShopperId::from("s"), &DeviceId::from("d"), 1_000, 2);
        let claims = parse(&token).unwrap().verify(&key.public_key(), 1_005, 5).unwrap();
        assert_eq!((claims.guests, claims.exp - claims.iat), (2, MAX_LIFETIME_S));
        let again = key.draw(&ShopperId::from("s"), &DeviceId::from("d"), 1_000, 2);
        assert_ne!(parse(&again).unwrap().claims.jti, claims.jti, "every token has its own jti");
    }

    #[test]
    fn keys_survive_a_save_and_load_and_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.key");
        let key = DeviceKey::generate();
        key.save(&path).unwrap();
        assert_eq!(DeviceKey::load(&path).unwrap().public_key(), key.public_key());
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(key.save(&path).is_err(), "an existing key is never overwritten");
        std::fs::write(dir.path().join("bad.key"), "nope").unwrap();
        assert!(DeviceKey::load(&dir.path().join("bad.key")).unwrap_err().to_string().contains("32-byte"));
    }

    #[test]
    fn the_qr_code_decodes_back_to_the_token() {
        let key = DeviceKey::generate();
        let token = key.draw(&ShopperId::from("shopper-1"), &DeviceId::from("device-1"), 1_000, 0);
        let png = qr_png(&token, 4).unwrap();
        let img = image::load_from_memory(&png).unwrap().to_luma8();
        let mut prepared = rqrr::PreparedImage::prepare(img);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, content) = grids[0].decode().unwrap();
        assert_eq!(content, token);
    }
}
