-- walkout schema v2 (SQLite): shopper sessions, the notification outbox,
-- Web Push subscriptions and staff accounts.

-- Login sessions: only a SHA-256 of the bearer token is stored.
CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    shopper_id  TEXT NOT NULL CONSTRAINT sessions_shopper_fk REFERENCES shoppers (id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_shopper_idx ON sessions (shopper_id);

-- Messages to send (receipt e-mails, pushes), retried with backoff until sent.
CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL CONSTRAINT outbox_kind_known CHECK (kind IN ('email', 'push')),
    recipient        TEXT NOT NULL,
    payload_json     TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    sent_at          BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX outbox_due_idx ON outbox (sent_at, next_attempt_at);

CREATE TABLE push_subscriptions (
    endpoint    TEXT PRIMARY KEY,
    shopper_id  TEXT NOT NULL CONSTRAINT push_subscriptions_shopper_fk REFERENCES shoppers (id),
    p256dh      TEXT NOT NULL,
    auth        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX push_subscriptions_shopper_idx ON push_subscriptions (shopper_id);

CREATE TABLE staff (
    id             TEXT PRIMARY KEY,
    username       TEXT NOT NULL CONSTRAINT staff_username_unique UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL CONSTRAINT staff_role_known CHECK (role IN ('reviewer', 'manager')),
    failed_logins  BIGINT NOT NULL DEFAULT 0,
    locked_until   BIGINT,
    created_at     BIGINT NOT NULL
);
