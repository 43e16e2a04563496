//! Staff accounts: the two roles, the rules for usernames and passwords,
//! and [`add_staff`], behind `walkout staff add` (the password comes from
//! stdin or an environment variable, never the command line, and is stored
//! only as an argon2id hash). The creation is audited.

use crate::db::{DbError, Millis, Staff, Storage};
use crate::ids::StaffId;

/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 12;

/// What a member of staff may do: reviewers review, managers also see the back office.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Reviewer,
    Manager,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reviewer => "reviewer",
            Self::Manager => "manager",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = StaffError;
    fn from_str(s: &str) -> Result<Self, StaffError> {
        match s {
            "reviewer" => Ok(Self::Reviewer),
            "manager" => Ok(Self::Manager),
            other => Err(StaffError::Role(other.to_owned())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error("role {0:?}: must be `reviewer` or `manager`")]
    Role(String),
    #[error("username {0:?}: 3 to 32 characters of a-z, 0-9, '.', '_' or '-'")]
    Username(String),
    #[error("the password must have at least {MIN_PASSWORD} characters")]
    WeakPassword,
    #[error("a member of staff called {0:?} exists already")]
    Taken(String),
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error("password: {0}")]
    PasswordSource(String),
    #[error(transparent)]
    Storage(DbError),
}

pub fn check_username(username: &str) -> Result<(), StaffError> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-');
    if (3..=32).contains(&username.len()) && username.chars().all(ok_char) {
        Ok(())
    } else {
        Err(StaffError::Username(username.to_owned()))
    }
}

pub fn check_password(password: &str) -> Result<(), StaffError> {
    if password.chars().count() >= MIN_PASSWORD { Ok(()) } else { Err(StaffError::WeakPassword) }
}

/// The password as typed on stdin: the first line, without its line end.
pub fn password_from_stdin_text(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

/// Creates an account; `actor` is who made it (for the audit log).
pub async fn add_staff(
    storage: &dyn Storage,
    username: &str,
    role: Role,
    password: &str,
    actor: &str,
    now: Millis,
) -> Result<Staff, StaffError> {
    check_username(username)?;
    check_password(password)?;
    let password = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || crate::app::auth::hash_password(&password))
        .await
        .map_err(|e| StaffError::Hash(e.to_string()))?
        .map_err(|e| StaffError::Hash(e.message))?;
    let staff = Staff {
        id: StaffId(uuid::Uuid::new_v4().to_string()),
        username: username.to_owned(),
        password_hash: hash,
        role: role.as_str().to_owned(),
        failed_logins: 0,
        locked_until: None,
        created_at: now,
    };
    match storage.create_staff(&staff).await {
        Ok(()) => {}
        Err(DbError::Conflict { .. }) => return Err(StaffError::Taken(username.to_owned())),
        Err(e) => return Err(StaffError::Storage(e)),
    }
    let detail = serde_json::json!({"role": staff.role}).to_string();
    storage
        .append_audit(now, actor, "staff_added", &format!("staff:{username}"), &detail)
        .await
        .map_err(StaffError::Storage)?;
    Ok(staff)
}

/// Where `walkout staff add` takes the password from: the environment
/// variable named by `--password-env`, else the first line of stdin (not
/// echoed when stdin is a terminal). Never from the command line.
pub fn read_password(password_env: Option<&str>) -> Result<String, StaffError> {
    if let Some(var) = password_env {
        return std::env::var(var)
            .map_err(|_| StaffError::PasswordSource(format!("environment variable {var} is not set")));
    }
    use std::io::{BufRead, IsTerminal, Write};
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    if terminal {
        eprint!("Password for the new account (at least {MIN_PASSWORD} characters): ");
        let _ = std::io::stderr().flush();
        let _ = std::process::Command::new("stty").arg("-echo").stdin(std::process::Stdio::inherit()).status();
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if terminal {
        let _ = std::process::Command::new("stty").arg("echo").stdin(std::process::Stdio::inherit()).status();
        eprintln!();
    }
    read.map_err(|e| StaffError::PasswordSource(format!("cannot read stdin: {e}")))?;
    Ok(password_from_stdin_text(&line))
}

/// `walkout staff add`: creates the account in the configured database and
/// reports it (id, username, role) as JSON.
pub async fn cli_add(
    database: &crate::config::DatabaseConfig,
    username: &str,
    role: &str,
    password_env: Option<&str>,
) -> Result<serde_json::Value, StaffError> {
    let role: Role = role.parse()?;
    check_username(username)?;
    let password = read_password(password_env)?;
    let storage = crate::open_storage(database).await.map_err(StaffError::Storage)?;
    let added = add_staff(&storage, username, role, &password, "cli", crate::now_ms()).await;
    storage.close().await;
    let staff = added?;
    Ok(serde_json::json!({"id": staff.id, "username": staff.username, "role": staff.role}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_roles_and_passwords_are_checked() {
        assert!(check_username("rita").is_ok());
        assert!(check_username("night.shift-2").is_ok());
        for bad in ["ri", "Rita", "rita smith", "rita@store", &"x".repeat(33)] {
            assert!(check_username(bad).is_err(), "{bad}");
        }
        assert_eq!("manager".parse::<Role>().unwrap(), Role::Manager);
        assert!("boss".parse::<Role>().is_err());
        assert!(check_password("short").is_err());
        assert!(check_password("twelve chars").is_ok());
        assert_eq!(password_from_stdin_text("secret words here\nmore\n"), "secret words here");
        assert_eq!(password_from_stdin_text(""), "");
    }
}
