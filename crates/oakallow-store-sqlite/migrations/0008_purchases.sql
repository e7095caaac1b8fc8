-- Credit bought through Stripe Checkout, and its refunds. A purchase's id is also its credit lot's and ledger
-- row's. Each Stripe event and each Checkout Session is recorded at most once, so a replayed or
-- re-sent event credits nothing more.
CREATE TABLE purchases (
    id                    TEXT PRIMARY KEY,
    account_id            TEXT NOT NULL REFERENCES accounts (id),
    package               TEXT NOT NULL,
    price_cents           INTEGER NOT NULL,
    calls                 INTEGER NOT NULL,
    amount                INTEGER NOT NULL,
    stripe_event_id       TEXT NOT NULL UNIQUE,
    stripe_session_id     TEXT NOT NULL UNIQUE,
    stripe_payment_intent TEXT,
    created_at            INTEGER NOT NULL,
    -- NULL, then 'pending' while Stripe is asked (the credit is already taken back), then
    -- 'refunded' with Stripe's refund id.
    refund_status         TEXT,
    stripe_refund_id      TEXT,
    refunded_at           INTEGER
);
CREATE INDEX purchases_by_account ON purchases (account_id, id);
