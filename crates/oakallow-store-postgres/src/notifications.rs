//! Notification channels on PostgreSQL ([`NotificationStore`]): each org's settings document,
//! Slack links, and the Slack message of each approval.

use async_trait::async_trait;
use oakallow_domain::audit::ActivityRecord;
use oakallow_domain::id::{ApprovalId, OrgId};
use oakallow_store::{NotificationStore, SlackLink, SlackMessage, StoreError, StoreResult, StoredChannels};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Row as _};

use crate::error::map_error;
use crate::rows::{RowResult, parsed, time};
use crate::{PostgresStore, chain};

const LINK_COLUMNS: &str = "org_id, team_id, user_id, account_id, created_at";

fn link(row: &PgRow) -> RowResult<SlackLink> {
    Ok(SlackLink {
        org_id: parsed(row, 0)?,
        team_id: row.try_get(1)?,
        user_id: row.try_get(2)?,
        account_id: parsed(row, 3)?,
        created_at: time(row, 4)?,
    })
}

#[async_trait]
impl NotificationStore for PostgresStore {
    async fn notification_channels(&self, org: OrgId) -> StoreResult<Option<StoredChannels>> {
        let found = sqlx::query("SELECT settings, updated_at FROM notification_channels WHERE org_id = $1")
            .bind(org.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_error)?;
        found.map(|row| Ok(StoredChannels { settings: row.try_get(0)?, updated_at: time(&row, 1)? })).transpose().map_err(map_error)
    }

    async fn set_notification_channels(&self, org: OrgId, channels: &StoredChannels, activity: ActivityRecord) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(map_error)?;
        sqlx::query(
            "INSERT INTO notification_channels (org_id, settings, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (org_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
        )
        .bind(org.to_string())
        .bind(&channels.settings)
        .bind(channels.updated_at.micros())
        .execute(&mut *tx)
        .await
        .map_err(map_error)?;
        chain::append(&mut tx, [&activity]).await?;
        tx.commit().await.map_err(map_error)
    }

    async fn slack_link(&self, org: OrgId, team_id: &str, user_id: &str) -> StoreResult<Option<SlackLink>> {
        let sql = format!("SELECT {LINK_COLUMNS} FROM slack_links WHERE org_id = $1 AND team_id = $2 AND user_id = $3");
        let found = sqlx::query(AssertSqlSafe(sql))
            .bind(org.to_string())
            .bind(team_id)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_error)?;
        found.as_ref().map(link).transpose().map_err(map_error)
    }

    async fn put_slack_link(&self, link: &SlackLink, activity: ActivityRecord) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(map_error)?;
        let sql = format!(
            "INSERT INTO slack_links ({LINK_COLUMNS}) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (org_id, team_id, user_id) DO UPDATE SET account_id = excluded.account_id, created_at = excluded.created_at"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(link.org_id.to_string())
            .bind(&link.team_id)
            .bind(&link.user_id)
            .bind(link.account_id.to_string())
            .bind(link.created_at.micros())
            .execute(&mut *tx)
            .await
            .map_err(map_error)?;
        chain::append(&mut tx, [&activity]).await?;
        tx.commit().await.map_err(map_error)
    }

    async fn delete_slack_link(&self, org: OrgId, team_id: &str, user_id: &str, activity: ActivityRecord) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(map_error)?;
        let deleted = sqlx::query("DELETE FROM slack_links WHERE org_id = $1 AND team_id = $2 AND user_id = $3")
            .bind(org.to_string())
            .bind(team_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(map_error)?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        chain::append(&mut tx, [&activity]).await?;
        tx.commit().await.map_err(map_error)
    }

    async fn slack_links(&self, org: OrgId) -> StoreResult<Vec<SlackLink>> {
        let sql = format!("SELECT {LINK_COLUMNS} FROM slack_links WHERE org_id = $1 ORDER BY created_at, team_id, user_id");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(org.to_string()).fetch_all(&self.pool).await.map_err(map_error)?;
        rows.iter().map(link).collect::<RowResult<_>>().map_err(map_error)
    }

    async fn slack_message(&self, org: OrgId, approval: ApprovalId) -> StoreResult<Option<SlackMessage>> {
        let found = sqlx::query("SELECT org_id, approval_id, channel, ts FROM slack_messages WHERE org_id = $1 AND approval_id = $2")
            .bind(org.to_string())
            .bind(approval.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_error)?;
        found
            .map(|row| {
                Ok(SlackMessage { org_id: parsed(&row, 0)?, approval_id: parsed(&row, 1)?, channel: row.try_get(2)?, ts: row.try_get(3)? })
            })
            .transpose()
            .map_err(map_error)
    }

    async fn put_slack_message(&self, message: &SlackMessage) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO slack_messages (org_id, approval_id, channel, ts) VALUES ($1, $2, $3, $4)
             ON CONFLICT (org_id, approval_id) DO UPDATE SET channel = excluded.channel, ts = excluded.ts",
        )
        .bind(message.org_id.to_string())
        .bind(message.approval_id.to_string())
        .bind(&message.channel)
        .bind(&message.ts)
        .execute(&self.pool)
        .await
        .map_err(map_error)?;
        Ok(())
    }
}
