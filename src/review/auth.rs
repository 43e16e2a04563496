//! Staff authentication over HTTP: the login page and form (its own
//! double-submit token, since there is no session yet), lockout, logout,
//! and the extractors every console handler uses: [`Staffer`] (a live
//! session, else the login page or an "expired" page), [`Manager`] (403 for
//! reviewers) and [`StaffForm`] (a POST body whose CSRF token must be the
//! session's). Every login, failure, lockout and logout is audited.

use super::pages::{LoginPage, Nav, html};
use super::session::{self, COOKIE, LOGIN_COOKIE, cookie_value, set_cookie};
use super::{Console, ConsoleError, console_of};
use crate::app::auth::{blocking, verify_password};
use crate::db::{Staff, StaffSession};
use crate::http::AppState;
use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::sync::{Arc, LazyLock};

/// A signed-in member of staff.
pub struct Staffer {
    pub console: Arc<Console>,
    pub staff: Staff,
    pub session: StaffSession,
}

impl Staffer {
    pub fn is_manager(&self) -> bool {
        self.staff.role == "manager"
    }

    pub fn nav(&self) -> Nav {
        Nav {
            username: self.staff.username.clone(),
            role: self.staff.role.clone(),
            manager: self.is_manager(),
            csrf: self.session.csrf_token.clone(),
        }
    }

    pub fn frame(&self, active: &'static str) -> super::pages::Frame {
        self.console.frame(Some(self.nav()), active)
    }

    /// Writes an audit entry as this member of staff.
    pub async fn audit(&self, action: &str, subject: &str, detail: serde_json::Value) -> Result<(), ConsoleError> {
        let at = self.console.now();
        self.console.storage.append_audit(at, &self.staff.username, action, subject, &detail.to_string()).await?;
        Ok(())
    }
}

fn cookie_of<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|h| cookie_value(h, name))
}

impl FromRequestParts<AppState> for Staffer {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let console = console_of(state)?;
        let Some(token) = cookie_of(&parts.headers, COOKIE).filter(|t| !t.is_empty()) else {
            let next = parts.uri.path_and_query().map_or("/console/", |p| p.as_str());
            return Err(ConsoleError::LoginRequired { next: next.to_owned() });
        };
        let hash = session::token_hash(token);
        let session = console.storage.staff_session(&hash).await?.ok_or(ConsoleError::SessionExpired)?;
        if session.expires_at <= console.now() {
            console.storage.delete_staff_session(&hash).await?;
            return Err(ConsoleError::SessionExpired);
        }
        let staff = console.storage.get_staff(&session.staff_id).await?.ok_or(ConsoleError::SessionExpired)?;
        Ok(Self { console, staff, session })
    }
}

/// A manager (reviewers get a 403 page).
pub struct Manager(pub Staffer);

impl FromRequestParts<AppState> for Manager {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let who = Staffer::from_request_parts(parts, state).await?;
        if !who.is_manager() {
            tracing::warn!(staff = %who.staff.username, path = %parts.uri.path(), "a reviewer asked for a manager's page");
            return Err(ConsoleError::Forbidden);
        }
        Ok(Self(who))
    }
}

/// A form posted by a signed-in member of staff with this session's CSRF token.
pub struct StaffForm {
    pub who: Staffer,
    pub fields: Vec<(String, String)>,
}

impl StaffForm {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

impl FromRequest<AppState> for StaffForm {
    type Rejection = ConsoleError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let who = Staffer::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let axum::Form(fields) = axum::Form::<Vec<(String, String)>>::from_request(req, state)
            .await
            .map_err(|e| ConsoleError::BadInput(format!("the form could not be read: {}", e.body_text())))?;
        let submitted = fields.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str());
        if !session::csrf_ok(&who.session.csrf_token, submitted) {
            tracing::warn!(staff = %who.staff.username, "a form without this session's CSRF token was refused");
            who.audit("csrf_rejected", &format!("staff:{}", who.staff.username), serde_json::json!({})).await?;
            return Err(ConsoleError::BadCsrf);
        }
        Ok(Self { who, fields })
    }
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

fn login_form(console: &Console, token: &str, next: &str, username: &str, message: Option<String>) -> Response {
    let page = LoginPage {
        frame: console.frame(None, ""),
        csrf: token.to_owned(),
        next: next.to_owned(),
        username: username.to_owned(),
        message,
    };
    let mut response = html(&page);
    if let Ok(v) = HeaderValue::from_str(&set_cookie(LOGIN_COOKIE, token, 3_600)) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

pub async fn login_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LoginQuery>) -> Response {
    let console = match console_of(&state) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let token =
        cookie_of(&headers, LOGIN_COOKIE).filter(|t| t.len() == 43).map_or_else(session::random_token, str::to_owned);
    login_form(&console, &token, &session::safe_next(q.next.as_deref()), "", None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

/// Compared against when the username is unknown, so both cases take as long.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| crate::app::auth::hash_password("no such staff member").unwrap_or_default());

pub async fn log_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LoginForm>,
) -> Response {
    match try_log_in(&state, &headers, form).await {
        Ok(r) | Err(r) => r,
    }
}

async fn try_log_in(state: &AppState, headers: &HeaderMap, form: LoginForm) -> Result<Response, Response> {
    let console = console_of(state).map_err(IntoResponse::into_response)?;
    let expected = cookie_of(headers, LOGIN_COOKIE).unwrap_or_default();
    if !session::csrf_ok(expected, Some(&form.csrf)) {
        return Err(ConsoleError::BadCsrf.into_response());
    }
    let next = session::safe_next(form.next.as_deref());
    let username = form.username.trim().to_owned();
    let refuse = |status: StatusCode, message: &str| {
        (status, login_form(&console, expected, &next, &username, Some(message.to_owned()))).into_response()
    };
    let db = |e| ConsoleError::from(e).into_response();
    let now = console.now();
    let staff = console.storage.staff_by_username(&username).await.map_err(db)?;
    let subject = format!("staff:{username}");
    let audit = |action: &'static str, detail: serde_json::Value| {
        let (storage, subject, username) = (console.storage.clone(), subject.clone(), username.clone());
        async move { storage.append_audit(now, &username, action, &subject, &detail.to_string()).await }
    };
    if let Some(s) = staff.as_ref().filter(|s| session::is_locked(s, now)) {
        audit("login_refused_locked", serde_json::json!({})).await.map_err(db)?;
        let until = super::office::time_label(s.locked_until.unwrap_or(now));
        let message = format!("Too many failed attempts: this account is locked until {until}.");
        return Err(refuse(StatusCode::TOO_MANY_REQUESTS, &message));
    }
    let phc = staff.as_ref().map_or_else(|| DUMMY_HASH.clone(), |s| s.password_hash.clone());
    let password = form.password;
    let matches = blocking(move || verify_password(&password, &phc)).await.map_err(IntoResponse::into_response)?;
    let staff = match staff {
        Some(s) if matches => s,
        Some(s) => {
            let (failed, locked) = session::after_failure(s.failed_logins, now, &console.policy);
            console.storage.set_staff_login_state(&s.id, failed, locked).await.map_err(db)?;
            let action = if locked.is_some() { "login_locked" } else { "login_failed" };
            audit(action, serde_json::json!({"failed_in_a_row": s.failed_logins + 1})).await.map_err(db)?;
            return Err(refuse(StatusCode::UNAUTHORIZED, "Wrong username or password."));
        }
        None => return Err(refuse(StatusCode::UNAUTHORIZED, "Wrong username or password.")),
    };
    console.storage.set_staff_login_state(&staff.id, 0, None).await.map_err(db)?;
    let (token, row) = session::new_session(&staff, now, &console.policy);
    console.storage.create_staff_session(&row).await.map_err(db)?;
    audit("login", serde_json::json!({"role": staff.role})).await.map_err(db)?;
    let mut response = Redirect::to(&next).into_response();
    let h = response.headers_mut();
    for cookie in [set_cookie(COOKIE, &token, console.policy.session_ms / 1000), set_cookie(LOGIN_COOKIE, "", 0)] {
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            h.append(header::SET_COOKIE, v);
        }
    }
    Ok(response)
}

pub async fn log_out(form: StaffForm) -> Result<Response, ConsoleError> {
    let who = form.who;
    who.console.storage.delete_staff_session(&who.session.token_hash).await?;
    who.audit("logout", &format!("staff:{}", who.staff.username), serde_json::json!({})).await?;
    let mut response = Redirect::to("/console/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&set_cookie(COOKIE, "", 0)) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}
