-- oakallow schema, version 14: notification channels. An org's channels (Slack, PagerDuty, e-mail)
-- are one JSON document, secrets included, as the webhook secret is kept. Slack users linked to
-- accounts (a link is made by the person, signed in, from a link Slack showed them), and the Slack
-- message posted for each approval (to update it when the approval is decided or expires).
-- Deliveries to these channels go through the webhook outbox, told apart by their channel.

CREATE TABLE notification_channels (
    org_id     TEXT PRIMARY KEY,
    settings   TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE slack_links (
    org_id     TEXT NOT NULL,
    team_id    TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, team_id, user_id)
);
CREATE INDEX slack_links_by_account ON slack_links (account_id);

CREATE TABLE slack_messages (
    org_id      TEXT NOT NULL,
    approval_id TEXT NOT NULL,
    channel     TEXT NOT NULL,
    ts          TEXT NOT NULL,
    PRIMARY KEY (org_id, approval_id)
);

ALTER TABLE webhook_deliveries ADD COLUMN channel TEXT NOT NULL DEFAULT 'webhook';
