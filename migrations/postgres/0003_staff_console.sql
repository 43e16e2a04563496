-- walkout schema v3 (PostgreSQL): the staff console. Staff login sessions (cookie
-- token hashed, CSRF synchroniser token), evidence of flagged visits (files
-- on disk, listed here so the retention job can find and delete them), and
-- indexes for the back office's reports by time.

-- Staff sessions: only a SHA-256 of the cookie's token is stored.
CREATE TABLE staff_sessions (
    token_hash  TEXT PRIMARY KEY,
    staff_id    TEXT NOT NULL CONSTRAINT staff_sessions_staff_fk REFERENCES staff (id),
    csrf_token  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX staff_sessions_staff_idx ON staff_sessions (staff_id);

-- Evidence kept for flagged visits only; `path` is relative to review.evidence_dir.
CREATE TABLE evidence (
    id          TEXT PRIMARY KEY,
    visit_id    TEXT NOT NULL CONSTRAINT evidence_visit_fk REFERENCES visits (id),
    event_id    TEXT NOT NULL,
    kind        TEXT NOT NULL CONSTRAINT evidence_kind_known CHECK (kind IN ('snapshot', 'weight_trace', 'candidates')),
    source      TEXT NOT NULL,
    path        TEXT NOT NULL,
    at          BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX evidence_visit_idx ON evidence (visit_id, at);
CREATE INDEX evidence_created_idx ON evidence (created_at);

CREATE INDEX receipts_store_issued_idx ON receipts (store_id, issued_at);
CREATE INDEX visits_store_exited_idx ON visits (store_id, exited_at);
CREATE INDEX review_cases_created_idx ON review_cases (store_id, created_at);
CREATE INDEX audit_log_action_idx ON audit_log (action, at);
