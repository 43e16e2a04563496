//! The review queue: every open or claimed case of the store, oldest first,
//! with its reasons, how long it has waited and who holds it; below it the
//! cases decided lately.

use super::ConsoleError;
use super::auth::Staffer;
use super::office::time_label;
use super::pages::{DecidedRow, QueuePage, QueueRow, html};
use crate::db::{Millis, ReviewCase};
use axum::response::Response;

/// How many decided cases the page lists.
const RECENT: usize = 10;

/// `3 min`, `2 h 05 min`, `1 d 4 h`.
pub fn waiting(ms: Millis) -> String {
    let minutes = ms.max(0) / 60_000;
    match minutes {
        m if m < 60 => format!("{m} min"),
        m if m < 24 * 60 => format!("{} h {:02} min", m / 60, m % 60),
        m => format!("{} d {} h", m / (24 * 60), (m / 60) % 24),
    }
}

/// `exit review` or `dispute`.
pub fn kind_of(case: &ReviewCase) -> &'static str {
    if case.reason.starts_with("dispute") { "dispute" } else { "exit review" }
}

/// The case's reasons, one each (they are stored joined by `; `).
pub fn reasons_of(case: &ReviewCase) -> Vec<String> {
    case.reason.split("; ").filter(|r| !r.is_empty()).map(str::to_owned).collect()
}

pub fn case_href(id: &str) -> String {
    format!("/console/cases/{}", super::error::percent_encode(id))
}

fn row(case: &ReviewCase, viewer: &str, now: Millis) -> QueueRow {
    QueueRow {
        id: case.id.to_string(),
        href: case_href(case.id.as_str()),
        kind: kind_of(case),
        reasons: reasons_of(case),
        visit: case.visit_id.to_string(),
        opened: time_label(case.created_at),
        waiting: waiting(now - case.created_at),
        claimed_by: case.claimed_by.clone(),
        mine: case.claimed_by.as_deref() == Some(viewer),
    }
}

pub async fn page(who: Staffer) -> Result<Response, ConsoleError> {
    let c = &who.console;
    let mut open = c.storage.list_review_cases(&c.store, "open").await?;
    open.extend(c.storage.list_review_cases(&c.store, "claimed").await?);
    open.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.as_str().cmp(b.id.as_str())));
    let mut decided = c.storage.list_review_cases(&c.store, "decided").await?;
    decided.sort_by_key(|d| std::cmp::Reverse(d.decided_at));
    let now = c.now();
    let recent = decided
        .iter()
        .take(RECENT)
        .map(|d| DecidedRow {
            id: d.id.to_string(),
            href: case_href(d.id.as_str()),
            decision: d.decision.clone().unwrap_or_default(),
            by: d.decided_by.clone().unwrap_or_default(),
            decided: d.decided_at.map(time_label).unwrap_or_default(),
        })
        .collect();
    let page = QueuePage {
        frame: who.frame("queue"),
        open: open.iter().map(|case| row(case, &who.staff.username, now)).collect(),
        recent,
    };
    Ok(html(&page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_times_read_naturally() {
        assert_eq!(waiting(-5), "0 min");
        assert_eq!(waiting(59 * 60_000), "59 min");
        assert_eq!(waiting(125 * 60_000), "2 h 05 min");
        assert_eq!(waiting((26 * 60 + 3) * 60_000), "1 d 2 h");
    }

    #[test]
    fn reasons_split_and_kinds_are_told_apart() {
        let case = |reason: &str| ReviewCase::open("c".into(), "v".into(), "s".into(), reason.into(), 0);
        assert_eq!(reasons_of(&case("low_confidence: an event at 0.50; age_restricted: DM-0040")).len(), 2);
        assert_eq!(kind_of(&case("dispute: line 1 x1: not mine")), "dispute");
        assert_eq!(kind_of(&case("unmatched_put_back")), "exit review");
        assert_eq!(case_href("case-v 1"), "/console/cases/case-v%201");
    }
}
