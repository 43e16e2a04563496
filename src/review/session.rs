//! Staff sessions, pure: random cookie tokens of which only a SHA-256 is
//! stored, a CSRF synchroniser token per session that every form echoes and
//! that is compared in constant time, the cookie headers (HttpOnly, Secure,
//! SameSite=Strict, scoped to `/console`), and the lockout rule after
//! repeated failed logins. The HTTP side is [`super::auth`].

use crate::db::{Millis, Staff, StaffSession};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use rand::RngExt;

/// The session cookie.
pub const COOKIE: &str = "walkout_staff";
/// The login form's own token cookie (double submit: there is no session yet).
pub const LOGIN_COOKIE: &str = "walkout_login";
/// Where the cookies are sent.
pub const COOKIE_PATH: &str = "/console";

/// Logins and lockouts, from `[review]` in the config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginPolicy {
    pub session_ms: Millis,
    pub max_failed_logins: u32,
    pub lockout_ms: Millis,
}

impl LoginPolicy {
    pub fn from_config(c: &crate::config::ReviewConfig) -> Self {
        Self {
            session_ms: (c.session_minutes as i64).saturating_mul(60_000),
            max_failed_logins: c.max_failed_logins,
            lockout_ms: (c.lockout_minutes as i64).saturating_mul(60_000),
        }
    }
}

impl Default for LoginPolicy {
    fn default() -> Self {
        Self::from_config(&crate::config::ReviewConfig::default())
    }
}

/// 32 random bytes, base64url.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    B64.encode(bytes)
}

/// Hex SHA-256 of a cookie token: what the database keeps.
pub fn token_hash(token: &str) -> String {
    crate::app::auth::token_hash(token)
}

/// A new session for `staff`: the cookie's token and the row to store.
pub fn new_session(staff: &Staff, now: Millis, policy: &LoginPolicy) -> (String, StaffSession) {
    let token = random_token();
    let session = StaffSession {
        token_hash: token_hash(&token),
        staff_id: staff.id.clone(),
        csrf_token: random_token(),
        created_at: now,
        expires_at: now.saturating_add(policy.session_ms),
    };
    (token, session)
}

/// Equal strings, compared without an early exit (no timing oracle).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether a submitted form's token is the session's (an empty or missing one never is).
pub fn csrf_ok(expected: &str, submitted: Option<&str>) -> bool {
    submitted.is_some_and(|s| !expected.is_empty() && constant_time_eq(expected, s))
}

/// `Set-Cookie` for a cookie that lives `max_age_s` seconds (0 deletes it).
pub fn set_cookie(name: &str, value: &str, max_age_s: i64) -> String {
    format!("{name}={value}; Path={COOKIE_PATH}; Max-Age={}; HttpOnly; Secure; SameSite=Strict", max_age_s.max(0))
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').filter_map(|kv| kv.trim().split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v.trim())
}

/// Whether `staff` is locked out at `now`.
pub fn is_locked(staff: &Staff, now: Millis) -> bool {
    staff.locked_until.is_some_and(|until| until > now)
}

/// The failure count and lock after one more failed login: the
/// `max_failed_logins`-th failure in a row locks the account for
/// `lockout_ms` and starts the count again.
pub fn after_failure(failed_logins: i64, now: Millis, policy: &LoginPolicy) -> (i64, Option<Millis>) {
    let failed = failed_logins.max(0) + 1;
    if failed >= i64::from(policy.max_failed_logins) { (0, Some(now + policy.lockout_ms)) } else { (failed, None) }
}

/// Where to go after logging in: only a console page, never another site.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/console/") && !n.contains("//") && !n.contains('\\') => n.to_owned(),
        _ => "/console/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::StaffId;

    fn staff() -> Staff {
        Staff {
            id: StaffId::from("st-1"),
            username: "rita".into(),
            password_hash: String::new(),
            role: "reviewer".into(),
            failed_logins: 0,
            locked_until: None,
            created_at: 0,
        }
    }

    #[test]
    fn sessions_keep_a_hash_and_their_own_csrf_token() {
        let policy = LoginPolicy { session_ms: 60_000, max_failed_logins: 3, lockout_ms: 1_000 };
        let (token, session) = new_session(&staff(), 1_000, &policy);
        let (other, again) = new_session(&staff(), 1_000, &policy);
        assert_ne!(token, other);
        assert_eq!(session.token_hash, token_hash(&token));
        assert_ne!(session.token_hash, token);
        assert_ne!(session.csrf_token, again.csrf_token, "each session its own CSRF token");
        assert_eq!(session.expires_at, 61_000);
        assert_eq!(token.len(), 43);
    }

    #[test]
    fn csrf_tokens_must_match_exactly() {
        assert!(csrf_ok("abc", Some("abc")));
        assert!(!csrf_ok("abc", Some("abd")));
        assert!(!csrf_ok("abc", Some("ab")));
        assert!(!csrf_ok("abc", None));
        assert!(!csrf_ok("", Some("")), "an empty expected token never matches");
        assert!(constant_time_eq("", ""));
    }

    #[test]
    fn cookies_are_http_only_secure_strict_and_parse_back() {
        let c = set_cookie(COOKIE, "tok", 3_600);
        for part in ["walkout_staff=tok", "Path=/console", "Max-Age=3600", "HttpOnly", "Secure", "SameSite=Strict"] {
            assert!(c.contains(part), "{c}");
        }
        assert!(set_cookie(COOKIE, "", -5).contains("Max-Age=0"));
        let header = "a=1; walkout_staff=xyz ; walkout_login=q=q";
        assert_eq!(cookie_value(header, COOKIE), Some("xyz"));
        assert_eq!(cookie_value(header, LOGIN_COOKIE), Some("q=q"));
        assert_eq!(cookie_value(header, "none"), None);
    }

    #[test]
    fn the_nth_failure_locks_the_account_for_a_while() {
        let policy = LoginPolicy { session_ms: 1, max_failed_logins: 3, lockout_ms: 900_000 };
        assert_eq!(after_failure(0, 10, &policy), (1, None));
        assert_eq!(after_failure(1, 10, &policy), (2, None));
        assert_eq!(after_failure(2, 10, &policy), (0, Some(900_010)));
        let mut s = staff();
        s.locked_until = Some(900_010);
        assert!(is_locked(&s, 900_009));
        assert!(!is_locked(&s, 900_010));
        assert!(!is_locked(&staff(), 0));
    }

    #[test]
    fn only_console_pages_are_followed_after_login() {
        assert_eq!(safe_next(Some("/console/cases/c-1")), "/console/cases/c-1");
        assert_eq!(safe_next(Some("https://evil.example/")), "/console/");
        assert_eq!(safe_next(Some("/console//evil.example")), "/console/");
        assert_eq!(safe_next(Some("/api/v1/me")), "/console/");
        assert_eq!(safe_next(None), "/console/");
    }
}
