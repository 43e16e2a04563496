//! [`ConsoleError`]: what a console page answers when it cannot do what was
//! asked, as a friendly HTML page with the right 4xx (or 5xx) status and a
//! stable code in the `X-Error-Code` header; no internal detail is shown
//! (causes are logged). A request without a session is sent to the login
//! page instead; an expired session is said to be expired.

use super::pages::{ErrorPage, Frame, html};
use super::session::{COOKIE, set_cookie};
use crate::db::DbError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

#[derive(Debug)]
pub enum ConsoleError {
    /// No session cookie: log in first, then come back to `next`.
    LoginRequired {
        next: String,
    },
    /// A cookie whose session expired or was ended.
    SessionExpired,
    /// A reviewer on a manager's page.
    Forbidden,
    /// A form without the session's CSRF token.
    BadCsrf,
    NotFound(String),
    /// The case or cart moved on (decided, claimed by someone else, changed).
    Conflict {
        title: String,
        message: String,
    },
    /// A form that cannot be applied.
    BadInput(String),
    /// The console is not set up in this process.
    NotConfigured,
    /// The decision is saved but the charge failed.
    Payment(String),
    Unavailable(String),
    Internal(String),
}

impl ConsoleError {
    pub fn conflict(title: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Conflict { title: title.into(), message: message.into() }
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "console: internal error");
        Self::Internal(cause.to_string())
    }

    /// The status, the stable code, the page's title and message.
    fn parts(&self) -> (StatusCode, &'static str, String, String) {
        use StatusCode as S;
        match self {
            Self::LoginRequired { .. } => (S::SEE_OTHER, "login_required", "Log in".into(), String::new()),
            Self::SessionExpired => (
                S::UNAUTHORIZED,
                "session_expired",
                "Your session has ended".into(),
                "You were logged out (the session expired or was ended). Log in again to go on.".into(),
            ),
            Self::Forbidden => (
                S::FORBIDDEN,
                "forbidden",
                "Managers only".into(),
                "This page is for store managers. Your account is a reviewer's.".into(),
            ),
            Self::BadCsrf => (
                S::FORBIDDEN,
                "csrf_rejected",
                "Form not accepted".into(),
                "The form did not carry this session's security token, so nothing was changed. \
                 Open the page again from the console and resubmit."
                    .into(),
            ),
            Self::NotFound(what) => (S::NOT_FOUND, "not_found", "Not found".into(), format!("{what} was not found.")),
            Self::Conflict { title, message } => (S::CONFLICT, "conflict", title.clone(), message.clone()),
            Self::BadInput(message) => {
                (S::UNPROCESSABLE_ENTITY, "invalid_form", "Please correct the form".into(), message.clone())
            }
            Self::NotConfigured => (
                S::SERVICE_UNAVAILABLE,
                "console_unavailable",
                "Staff console unavailable".into(),
                "The staff console is not set up on this server.".into(),
            ),
            Self::Payment(message) => (S::BAD_GATEWAY, "payment_failed", "Charge failed".into(), message.clone()),
            Self::Unavailable(_) => (
                S::SERVICE_UNAVAILABLE,
                "unavailable",
                "Temporarily unavailable".into(),
                "The database did not answer. Try again in a moment.".into(),
            ),
            Self::Internal(_) => {
                (S::INTERNAL_SERVER_ERROR, "internal", "Something went wrong".into(), "The error was logged.".into())
            }
        }
    }
}

impl From<DbError> for ConsoleError {
    fn from(e: DbError) -> Self {
        tracing::error!(error = %e, "console: database");
        Self::Unavailable(e.to_string())
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        if let Self::LoginRequired { next } = &self {
            let target = format!("/console/login?next={}", percent_encode(next));
            return Redirect::to(&target).into_response();
        }
        let (status, code, title, message) = self.parts();
        let link = match self {
            Self::SessionExpired => Some(("/console/login".to_owned(), "Log in".to_owned())),
            Self::Conflict { .. } | Self::Payment(_) | Self::BadInput(_) | Self::NotFound(_) | Self::Forbidden => {
                Some(("/console/".to_owned(), "Back to the review queue".to_owned()))
            }
            _ => None,
        };
        let page = ErrorPage { frame: Frame::anonymous(), status: status.as_u16(), title, message, link };
        let mut response = (status, html(&page)).into_response();
        response.headers_mut().insert("x-error-code", HeaderValue::from_static(code));
        if status == StatusCode::UNAUTHORIZED
            && let Ok(v) = HeaderValue::from_str(&set_cookie(COOKIE, "", 0))
        {
            response.headers_mut().insert(header::SET_COOKIE, v);
        }
        response
    }
}

/// Percent-encodes everything but unreserved characters and `/`.
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
