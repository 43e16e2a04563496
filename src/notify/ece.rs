//! Web Push message encryption (RFC 8291) in the `aes128gcm` content coding
//! (RFC 8188): an ephemeral P-256 key agreed with the subscription's
//! `p256dh` key, mixed with its 16-byte `auth` secret through HKDF-SHA256,
//! then AES-128-GCM over one record of at most 4096 octets. Pure functions;
//! [`decrypt`] is the browser's side, used by tests and diagnostics.

use super::NotifyError;
use aes_gcm::Aes128Gcm;
use aes_gcm::aead::Nonce;
use aes_gcm::aead::{Aead, KeyInit};
use hkdf::Hkdf;
use p256::{PublicKey, SecretKey};
use sha2::Sha256;

/// The record size written into the header (RFC 8291 section 4: 4096).
pub const RECORD_SIZE: u32 = 4096;
/// Salt (16) + record size (4) + key id length (1) + uncompressed P-256 key (65).
pub const HEADER_LEN: usize = 86;
/// AES-GCM tag.
const TAG_LEN: usize = 16;
/// The largest plaintext sent: push services must accept 4096 octets of body
/// (RFC 8030 section 7.2), and the body is the header, the plaintext, one
/// padding delimiter and the tag.
pub const MAX_PLAINTEXT: usize = 4096 - HEADER_LEN - 1 - TAG_LEN;

/// The keys RFC 8291 derives for one message: the input keying material, the
/// content-encryption key and the base nonce.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Derived {
    pub ikm: [u8; 32],
    pub cek: [u8; 16],
    pub nonce: [u8; 12],
}

/// RFC 8291 section 3.4 and RFC 8188 section 2.2: `ecdh_secret` is the
/// shared P-256 x coordinate; `ua_public` and `as_public` are uncompressed points.
pub(crate) fn derive(ecdh_secret: &[u8], auth: &[u8], ua_public: &[u8], as_public: &[u8], salt: &[u8]) -> Derived {
    let mut key_info = Vec::with_capacity(14 + 65 + 65);
    key_info.extend_from_slice(b"WebPush: info\0");
    key_info.extend_from_slice(ua_public);
    key_info.extend_from_slice(as_public);
    let mut ikm = [0u8; 32];
    // The lengths are constants well under HKDF-SHA256's 8160-octet limit.
    Hkdf::<Sha256>::new(Some(auth), ecdh_secret).expand(&key_info, &mut ikm).expect("32 octets");
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let mut cek = [0u8; 16];
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek).expect("16 octets");
    let mut nonce = [0u8; 12];
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce).expect("12 octets");
    Derived { ikm, cek, nonce }
}

/// Decodes a subscription key: an uncompressed P-256 point (65 octets).
pub(crate) fn parse_public(bytes: &[u8]) -> Result<PublicKey, NotifyError> {
    if bytes.len() != 65 || bytes[0] != 0x04 {
        return Err(NotifyError::Subscription("p256dh must be an uncompressed P-256 point (65 octets)".into()));
    }
    PublicKey::from_sec1_bytes(bytes).map_err(|_| NotifyError::Subscription("p256dh is not a P-256 point".into()))
}

/// The uncompressed encoding of a public key (0x04 || x || y).
pub(crate) fn public_bytes(key: &PublicKey) -> Vec<u8> {
    p256::Sec1Point::from(key).as_bytes().to_vec()
}

/// Encrypts `plaintext` for a subscription with a fresh ephemeral key and salt.
pub fn encrypt(plaintext: &[u8], ua_public: &[u8], auth: &[u8]) -> Result<Vec<u8>, NotifyError> {
    let salt: [u8; 16] = rand::random();
    encrypt_with(plaintext, ua_public, auth, &random_secret_key(), &salt)
}

/// A uniformly random P-256 private key (rejection sampling over 32 random octets).
pub(crate) fn random_secret_key() -> SecretKey {
    loop {
        let bytes: [u8; 32] = rand::random();
        if let Ok(key) = SecretKey::from_slice(&bytes) {
            return key;
        }
    }
}

/// [`encrypt`] with the ephemeral key and salt given, so the RFC's worked
/// example can be reproduced byte for byte.
pub fn encrypt_with(
    plaintext: &[u8],
    ua_public: &[u8],
    auth: &[u8],
    as_secret: &SecretKey,
    salt: &[u8; 16],
) -> Result<Vec<u8>, NotifyError> {
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(NotifyError::PayloadTooLarge { size: plaintext.len(), max: MAX_PLAINTEXT });
    }
    if auth.len() != 16 {
        return Err(NotifyError::Subscription("auth must be 16 octets".into()));
    }
    let ua_key = parse_public(ua_public)?;
    let as_public = public_bytes(&as_secret.public_key());
    let shared = p256::ecdh::diffie_hellman(as_secret.to_nonzero_scalar(), ua_key.as_affine());
    let keys = derive(shared.raw_secret_bytes(), auth, ua_public, &as_public, salt);

    let mut record = Vec::with_capacity(plaintext.len() + 1);
    record.extend_from_slice(plaintext);
    record.push(0x02); // the last (and only) record's padding delimiter, no padding
    let cipher = Aes128Gcm::new_from_slice(&keys.cek).expect("16-octet key");
    let sealed = cipher
        .encrypt(&Nonce::<Aes128Gcm>::from(keys.nonce), record.as_slice())
        .map_err(|_| NotifyError::Crypto("AES-GCM encryption failed".into()))?;

    let mut body = Vec::with_capacity(HEADER_LEN + sealed.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(as_public.len() as u8);
    body.extend_from_slice(&as_public);
    body.extend_from_slice(&sealed);
    Ok(body)
}

/// Decrypts an `aes128gcm` Web Push body as the browser does, with the
/// subscription's private key and auth secret. Accepts any record size and
/// several records; checks each record's delimiter and strips padding.
pub fn decrypt(body: &[u8], ua_secret: &SecretKey, auth: &[u8]) -> Result<Vec<u8>, NotifyError> {
    let bad = |why: &str| NotifyError::Decrypt(why.to_owned());
    if body.len() < 21 {
        return Err(bad("shorter than the aes128gcm header"));
    }
    let (salt, rest) = body.split_at(16);
    let rs = u32::from_be_bytes(rest[..4].try_into().expect("4 octets")) as usize;
    let idlen = usize::from(rest[4]);
    let rest = &rest[5..];
    if idlen != 65 || rest.len() < idlen {
        return Err(bad("the key id is not an uncompressed P-256 key"));
    }
    if rs <= TAG_LEN + 1 {
        return Err(bad("record size too small"));
    }
    let (as_public, ciphertext) = rest.split_at(idlen);
    let as_key = parse_public(as_public).map_err(|_| bad("the key id is not a P-256 point"))?;
    let shared = p256::ecdh::diffie_hellman(ua_secret.to_nonzero_scalar(), as_key.as_affine());
    let ua_public = public_bytes(&ua_secret.public_key());
    let keys = derive(shared.raw_secret_bytes(), auth, &ua_public, as_public, salt);
    let cipher = Aes128Gcm::new_from_slice(&keys.cek).expect("16-octet key");

    let records: Vec<&[u8]> = ciphertext.chunks(rs).collect();
    if records.is_empty() {
        return Err(bad("no records"));
    }
    let mut plaintext = Vec::with_capacity(ciphertext.len());
    for (seq, record) in records.iter().enumerate() {
        let mut nonce = keys.nonce;
        for (n, s) in nonce[4..].iter_mut().zip((seq as u64).to_be_bytes()) {
            *n ^= s;
        }
        let mut opened = cipher
            .decrypt(&Nonce::<Aes128Gcm>::from(nonce), *record)
            .map_err(|_| bad("authentication failed (wrong keys or corrupted body)"))?;
        while opened.last() == Some(&0) {
            opened.pop();
        }
        let last = seq + 1 == records.len();
        match (opened.pop(), last) {
            (Some(0x02), true) | (Some(0x01), false) => plaintext.extend_from_slice(&opened),
            _ => return Err(bad("bad padding delimiter")),
        }
    }
    Ok(plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn b64(s: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(s).unwrap()
    }

    // RFC 8291 section 5 (and appendix A): every value below is the RFC's.
    const PLAINTEXT: &[u8] = b"When I grow up, I want to be a watermelon";
    const AS_PRIVATE: &str = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
    const AS_PUBLIC: &str = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
    const UA_PRIVATE: &str = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
    const UA_PUBLIC: &str = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const SALT: &str = "DGv6ra1nlYgDCS1FRnbzlw";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
    const ECDH_SECRET: &str = "kyrL1jIIOHEzg3sM2ZWRHDRB62YACZhhSlknJ672kSs";
    const IKM: &str = "S4lYMb_L0FxCeq0WhDx813KgSYqU26kOyzWUdsXYyrg";
    const CEK: &str = "oIhVW04MRdy2XN9CiKLxTg";
    const NONCE: &str = "4h_95klXJ5E_qnoN";
    const MESSAGE: &str = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN";

    fn secret(s: &str) -> SecretKey {
        SecretKey::from_slice(&b64(s)).unwrap()
    }

    #[test]
    fn keys_match_the_rfc_8291_worked_example_step_by_step() {
        let as_secret = secret(AS_PRIVATE);
        assert_eq!(public_bytes(&as_secret.public_key()), b64(AS_PUBLIC));
        assert_eq!(public_bytes(&secret(UA_PRIVATE).public_key()), b64(UA_PUBLIC));
        let ua = parse_public(&b64(UA_PUBLIC)).unwrap();
        let shared = p256::ecdh::diffie_hellman(as_secret.to_nonzero_scalar(), ua.as_affine());
        assert_eq!(shared.raw_secret_bytes().as_slice(), b64(ECDH_SECRET));
        let keys = derive(&b64(ECDH_SECRET), &b64(AUTH), &b64(UA_PUBLIC), &b64(AS_PUBLIC), &b64(SALT));
        assert_eq!(keys.ikm.to_vec(), b64(IKM));
        assert_eq!(keys.cek.to_vec(), b64(CEK));
        assert_eq!(keys.nonce.to_vec(), b64(NONCE));
    }

    #[test]
    fn encryption_reproduces_the_rfc_8291_message_byte_for_byte() {
        let salt: [u8; 16] = b64(SALT).try_into().unwrap();
        let body = encrypt_with(PLAINTEXT, &b64(UA_PUBLIC), &b64(AUTH), &secret(AS_PRIVATE), &salt).unwrap();
        assert_eq!(URL_SAFE_NO_PAD.encode(&body), MESSAGE);
        assert_eq!(body.len(), HEADER_LEN + PLAINTEXT.len() + 1 + TAG_LEN);
    }

    #[test]
    fn decryption_opens_the_rfc_message_and_random_ones() {
        let ua = secret(UA_PRIVATE);
        assert_eq!(decrypt(&b64(MESSAGE), &ua, &b64(AUTH)).unwrap(), PLAINTEXT);
        let body = encrypt(b"{\"title\":\"Receipt\"}", &b64(UA_PUBLIC), &b64(AUTH)).unwrap();
        assert_eq!(body[16..20], RECORD_SIZE.to_be_bytes());
        assert_eq!(decrypt(&body, &ua, &b64(AUTH)).unwrap(), b"{\"title\":\"Receipt\"}");
        // Two messages never share a salt or an ephemeral key.
        let again = encrypt(b"{\"title\":\"Receipt\"}", &b64(UA_PUBLIC), &b64(AUTH)).unwrap();
        assert_ne!(body[..HEADER_LEN], again[..HEADER_LEN]);
    }

    #[test]
    fn tampering_wrong_secrets_and_bad_inputs_are_refused() {
        let ua = secret(UA_PRIVATE);
        let mut body = b64(MESSAGE);
        *body.last_mut().unwrap() ^= 1;
        assert!(matches!(decrypt(&body, &ua, &b64(AUTH)), Err(NotifyError::Decrypt(_))));
        assert!(decrypt(&b64(MESSAGE), &ua, &[0u8; 16]).is_err());
        assert!(decrypt(&b64(MESSAGE)[..40], &ua, &b64(AUTH)).is_err());
        let big = vec![b'x'; MAX_PLAINTEXT + 1];
        assert!(matches!(encrypt(&big, &b64(UA_PUBLIC), &b64(AUTH)), Err(NotifyError::PayloadTooLarge { .. })));
        assert!(encrypt(&vec![b'x'; MAX_PLAINTEXT], &b64(UA_PUBLIC), &b64(AUTH)).unwrap().len() == 4096);
        assert!(matches!(encrypt(b"x", &b64(UA_PUBLIC)[..33], &b64(AUTH)), Err(NotifyError::Subscription(_))));
        assert!(matches!(encrypt(b"x", &b64(UA_PUBLIC), &[1; 8]), Err(NotifyError::Subscription(_))));
    }
}
