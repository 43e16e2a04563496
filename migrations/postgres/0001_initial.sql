-- walkout schema v1 (PostgreSQL). Times are unix milliseconds (BIGINT), money is
-- integer minor units + ISO 4217 code. Every constraint has a name; the storage
-- layer maps violations of these names to meaningful errors.

CREATE TABLE stores (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    address          TEXT NOT NULL,
    vat_number       TEXT NOT NULL,
    currency         TEXT NOT NULL CONSTRAINT stores_currency_iso CHECK (length(currency) = 3),
    tax_mode         TEXT NOT NULL CONSTRAINT stores_tax_mode_known CHECK (tax_mode IN ('inclusive', 'exclusive')),
    next_receipt_no  BIGINT NOT NULL DEFAULT 1,
    created_at       BIGINT NOT NULL
);

CREATE TABLE products (
    store_id            TEXT NOT NULL CONSTRAINT products_store_fk REFERENCES stores (id),
    sku                 TEXT NOT NULL,
    name                TEXT NOT NULL,
    unit_weight_g       DOUBLE PRECISION NOT NULL CONSTRAINT products_weight_positive CHECK (unit_weight_g > 0),
    weight_tolerance_g  DOUBLE PRECISION NOT NULL CONSTRAINT products_tolerance_nonneg CHECK (weight_tolerance_g >= 0),
    price_minor         BIGINT NOT NULL CONSTRAINT products_price_nonneg CHECK (price_minor >= 0),
    currency            TEXT NOT NULL,
    tax_class           TEXT NOT NULL,
    age_restricted      BOOLEAN NOT NULL DEFAULT FALSE,
    CONSTRAINT products_pk PRIMARY KEY (store_id, sku)
);

CREATE TABLE facings (
    store_id  TEXT NOT NULL,
    plate_id  TEXT NOT NULL,
    sku       TEXT NOT NULL,
    CONSTRAINT facings_pk PRIMARY KEY (store_id, plate_id, sku),
    CONSTRAINT facings_product_fk FOREIGN KEY (store_id, sku) REFERENCES products (store_id, sku)
);

CREATE TABLE shoppers (
    id              TEXT PRIMARY KEY,
    email           TEXT NOT NULL CONSTRAINT shoppers_email_unique UNIQUE,
    display_name    TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    loyalty_points  BIGINT NOT NULL DEFAULT 0 CONSTRAINT shoppers_points_nonneg CHECK (loyalty_points >= 0),
    created_at      BIGINT NOT NULL
);

-- Card data never reaches us: only the provider's token, the brand and the last four digits.
CREATE TABLE payment_methods (
    id              TEXT PRIMARY KEY,
    shopper_id      TEXT NOT NULL CONSTRAINT payment_methods_shopper_fk REFERENCES shoppers (id),
    provider        TEXT NOT NULL,
    provider_token  TEXT NOT NULL,
    brand           TEXT NOT NULL,
    last4           TEXT NOT NULL CONSTRAINT payment_methods_last4_digits CHECK (length(last4) = 4),
    is_default      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      BIGINT NOT NULL,
    CONSTRAINT payment_methods_token_unique UNIQUE (shopper_id, provider, provider_token)
);

CREATE TABLE devices (
    id          TEXT PRIMARY KEY,
    shopper_id  TEXT NOT NULL CONSTRAINT devices_shopper_fk REFERENCES shoppers (id),
    public_key  BYTEA NOT NULL CONSTRAINT devices_public_key_unique UNIQUE,
    label       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

-- Entry-token ids already used: single use across restarts and gate processes.
CREATE TABLE used_entry_tokens (
    jti        TEXT NOT NULL CONSTRAINT used_entry_tokens_pk PRIMARY KEY,
    device_id  TEXT NOT NULL,
    used_at    BIGINT NOT NULL
);

CREATE TABLE visits (
    id           TEXT PRIMARY KEY,
    store_id     TEXT NOT NULL CONSTRAINT visits_store_fk REFERENCES stores (id),
    shopper_id   TEXT NOT NULL CONSTRAINT visits_shopper_fk REFERENCES shoppers (id),
    device_id    TEXT,
    party_size   BIGINT NOT NULL CONSTRAINT visits_party_size_positive CHECK (party_size >= 1),
    status       TEXT NOT NULL CONSTRAINT visits_status_known CHECK (status IN ('entered', 'shopping', 'exited', 'review', 'settled', 'cancelled')),
    track_id     TEXT,
    entered_at   BIGINT NOT NULL,
    exited_at    BIGINT,
    settled_at   BIGINT
);
CREATE INDEX visits_store_status_idx ON visits (store_id, status);

-- Append-only: corrections are new events, history is never edited.
CREATE TABLE cart_events (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            TEXT NOT NULL CONSTRAINT cart_events_id_unique UNIQUE,
    store_id      TEXT NOT NULL,
    visit_id      TEXT CONSTRAINT cart_events_visit_fk REFERENCES visits (id),
    kind          TEXT NOT NULL CONSTRAINT cart_events_kind_known CHECK (kind IN ('pick', 'put_back', 'correction_add', 'correction_remove')),
    sku           TEXT NOT NULL,
    quantity      BIGINT NOT NULL CONSTRAINT cart_events_quantity_positive CHECK (quantity > 0),
    confidence    DOUBLE PRECISION NOT NULL CONSTRAINT cart_events_confidence_range CHECK (confidence >= 0 AND confidence <= 1),
    source        TEXT NOT NULL,
    evidence_ref  TEXT,
    shopper_id    TEXT,
    track_id      TEXT,
    at            BIGINT NOT NULL,
    recorded_at   BIGINT NOT NULL
);
CREATE INDEX cart_events_visit_idx ON cart_events (visit_id, seq);

CREATE TABLE receipts (
    id           TEXT PRIMARY KEY,
    store_id     TEXT NOT NULL CONSTRAINT receipts_store_fk REFERENCES stores (id),
    receipt_no   BIGINT NOT NULL,
    visit_id     TEXT NOT NULL CONSTRAINT receipts_visit_unique UNIQUE CONSTRAINT receipts_visit_fk REFERENCES visits (id),
    shopper_id   TEXT NOT NULL,
    issued_at    BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    total_minor  BIGINT NOT NULL,
    tax_minor    BIGINT NOT NULL,
    body_json    TEXT NOT NULL,
    CONSTRAINT receipts_number_unique UNIQUE (store_id, receipt_no)
);
CREATE INDEX receipts_shopper_idx ON receipts (shopper_id, issued_at);

CREATE TABLE payments (
    id               TEXT PRIMARY KEY,
    visit_id         TEXT NOT NULL CONSTRAINT payments_visit_fk REFERENCES visits (id),
    operation        TEXT NOT NULL CONSTRAINT payments_operation_known CHECK (operation IN ('authorise', 'capture', 'cancel', 'refund')),
    idempotency_key  TEXT NOT NULL CONSTRAINT payments_idempotency_key_unique UNIQUE,
    provider         TEXT NOT NULL,
    provider_ref     TEXT,
    amount_minor     BIGINT NOT NULL CONSTRAINT payments_amount_nonneg CHECK (amount_minor >= 0),
    currency         TEXT NOT NULL,
    state            TEXT NOT NULL CONSTRAINT payments_state_known CHECK (state IN ('pending', 'succeeded', 'failed', 'requires_action')),
    error_code       TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX payments_visit_idx ON payments (visit_id);

CREATE TABLE review_cases (
    id          TEXT PRIMARY KEY,
    visit_id    TEXT NOT NULL CONSTRAINT review_cases_visit_fk REFERENCES visits (id),
    store_id    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    status      TEXT NOT NULL CONSTRAINT review_cases_status_known CHECK (status IN ('open', 'claimed', 'decided')),
    claimed_by  TEXT,
    claimed_at  BIGINT,
    decided_by  TEXT,
    decided_at  BIGINT,
    decision    TEXT,
    comment     TEXT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX review_cases_status_idx ON review_cases (store_id, status, created_at);

CREATE TABLE audit_log (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    detail_json  TEXT NOT NULL
);

CREATE TABLE stock_levels (
    store_id    TEXT NOT NULL,
    plate_id    TEXT NOT NULL,
    sku         TEXT NOT NULL,
    quantity    BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    CONSTRAINT stock_levels_pk PRIMARY KEY (store_id, plate_id, sku)
);
