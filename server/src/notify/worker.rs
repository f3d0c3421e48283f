//! The outbox worker: claims due pushes, sends them through FCM, and records
//! the outcome. Several server instances may run it on one database: a row is
//! claimed by a compare-and-set on (status, next_attempt_at), and a claim is a
//! lease, so a worker that dies mid-send leaves the row to be retried.
//!
//! Delivery is at least once: FCM v1 has no idempotency key, so a crash after
//! FCM accepted a message and before the row was marked `sent` sends it again
//! when the lease runs out. A crash before the send loses nothing.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::fcm::{FcmSender, Notice, PushKind, PushMessage, SendError, backoff_delay};
use super::model::EventKind;
use crate::entities::{device, push_outbox as outbox};
use crate::error::ApiError;

/// How long a claimed row is reserved for the worker that claimed it.
const LEASE: chrono::Duration = chrono::Duration::seconds(60);
/// Rows taken per round.
const BATCH: u64 = 200;
/// Sends in flight at once.
const CONCURRENCY: usize = 16;

#[derive(Clone)]
pub struct Worker {
    db: DatabaseConnection,
    sender: Option<Arc<FcmSender>>,
    max_attempts: i32,
}

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    pub dropped: usize,
}

enum Outcome {
    Sent,
    Retried,
    Failed,
    Dropped,
}

impl Worker {
    pub fn new(db: DatabaseConnection, sender: Option<Arc<FcmSender>>, max_attempts: u32) -> Self {
        Worker { db, sender, max_attempts: i32::try_from(max_attempts).unwrap_or(i32::MAX) }
    }

    /// Delivers until the task is dropped, polling every `every`.
    pub async fn run(self, every: Duration) {
        if self.sender.is_none() {
            tracing::info!(
                "push delivery is off (PHR_FCM_CREDENTIALS unset): notifications reach the inbox only"
            );
        }
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            loop {
                match self.round().await {
                    Ok(r)
                        if r.sent + r.retried + r.failed + r.dropped
                            >= usize::try_from(BATCH).unwrap_or(0) => {}
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "push outbox round failed");
                        break;
                    }
                }
            }
        }
    }

    /// One round: claims every due row (up to a batch) in one statement, then
    /// sends them concurrently.
    pub async fn round(&self) -> Result<Round, ApiError> {
        let now = Utc::now();
        let due: Vec<Uuid> = outbox::Entity::find()
            .select_only()
            .column(outbox::Column::Id)
            .filter(
                Condition::any()
                    .add(outbox::Column::Status.eq("pending"))
                    .add(outbox::Column::Status.eq("sending")),
            )
            .filter(outbox::Column::NextAttemptAt.lte(now))
            .order_by_asc(outbox::Column::NextAttemptAt)
            .limit(BATCH)
            .into_tuple()
            .all(&self.db)
            .await?;
        if due.is_empty() {
            return Ok(Round::default());
        }
        // The claim re-checks dueness, so of two workers that read the same
        // rows only one gets each; the claim is a lease that runs out.
        let claimed = outbox::Entity::update_many()
            .col_expr(outbox::Column::Status, Expr::value("sending"))
            .col_expr(outbox::Column::NextAttemptAt, Expr::value(now + LEASE))
            .filter(outbox::Column::Id.is_in(due))
            .filter(
                Condition::any()
                    .add(outbox::Column::Status.eq("pending"))
                    .add(outbox::Column::Status.eq("sending")),
            )
            .filter(outbox::Column::NextAttemptAt.lte(now))
            .exec_with_returning(&self.db)
            .await?;
        let tokens: std::collections::HashMap<Uuid, Option<String>> = device::Entity::find()
            .filter(device::Column::Id.is_in(claimed.iter().map(|r| r.device_id).collect::<BTreeSet<_>>()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|d| (d.id, d.push_token))
            .collect();
        let outcomes: Vec<Result<Outcome, ApiError>> = futures_util::stream::iter(claimed)
            .map(|row| {
                let token = tokens.get(&row.device_id).cloned().flatten();
                self.deliver(row, token)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut r = Round::default();
        for o in outcomes {
            match o? {
                Outcome::Sent => r.sent += 1,
                Outcome::Retried => r.retried += 1,
                Outcome::Failed => r.failed += 1,
                Outcome::Dropped => r.dropped += 1,
            }
        }
        Ok(r)
    }

    async fn set(
        &self,
        id: Uuid,
        status: &str,
        next: Option<chrono::DateTime<Utc>>,
        error: Option<String>,
        attempts: i32,
    ) -> Result<(), ApiError> {
        let mut u = outbox::Entity::update_many()
            .col_expr(outbox::Column::Status, Expr::value(status))
            .col_expr(outbox::Column::Attempts, Expr::value(attempts))
            .col_expr(
                outbox::Column::LastError,
                Expr::value(error.map(|e| e.chars().take(400).collect::<String>())),
            );
        if let Some(n) = next {
            u = u.col_expr(outbox::Column::NextAttemptAt, Expr::value(n));
        }
        u.filter(outbox::Column::Id.eq(id)).exec(&self.db).await?;
        Ok(())
    }

    async fn retry(
        &self,
        id: Uuid,
        attempts: i32,
        retry_after: Option<Duration>,
        reason: String,
    ) -> Result<Outcome, ApiError> {
        let delay =
            backoff_delay(u32::try_from(attempts - 1).unwrap_or(0), retry_after, &mut rand::thread_rng());
        let next = Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(60));
        self.set(id, "pending", Some(next), Some(reason), attempts).await?;
        Ok(Outcome::Retried)
    }

    async fn deliver(&self, row: outbox::Model, token: Option<String>) -> Result<Outcome, ApiError> {
        let attempts = row.attempts + 1;
        let Some(sender) = &self.sender else {
            self.set(row.id, "dropped", None, Some("push delivery is off".into()), row.attempts).await?;
            return Ok(Outcome::Dropped);
        };
        let Some(token) = token else {
            self.set(row.id, "dropped", None, Some("the device has no push token".into()), row.attempts)
                .await?;
            return Ok(Outcome::Dropped);
        };
        let data: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&row.data).unwrap_or_default();
        let event = data.get("event").and_then(|e| EventKind::parse(e)).unwrap_or(EventKind::Sync);
        let (title, body) = event.notice();
        let kind = match row.kind.as_str() {
            "sync" => PushKind::SyncPoke,
            "emergency" => PushKind::Emergency(Notice::new(title, body)),
            _ => PushKind::Alert(Notice::new(title, body)),
        };
        let mut msg = PushMessage::new(token.clone(), kind);
        for (k, v) in data {
            msg = msg.with_data(k, v);
        }
        match sender.send(&msg).await {
            Ok(sent) => {
                outbox::Entity::update_many()
                    .col_expr(outbox::Column::Status, Expr::value("sent"))
                    .col_expr(outbox::Column::Attempts, Expr::value(attempts))
                    .col_expr(outbox::Column::MessageName, Expr::value(sent.name))
                    .col_expr(outbox::Column::SentAt, Expr::value(Utc::now()))
                    .filter(outbox::Column::Id.eq(row.id))
                    .exec(&self.db)
                    .await?;
                Ok(Outcome::Sent)
            }
            Err(SendError::Unregistered) => {
                // The token is dead: forget it (unless the device registered a new one meanwhile).
                device::Entity::update_many()
                    .col_expr(device::Column::PushToken, Expr::value(Option::<String>::None))
                    .filter(device::Column::Id.eq(row.device_id))
                    .filter(device::Column::PushToken.eq(token))
                    .exec(&self.db)
                    .await?;
                self.set(row.id, "dropped", None, Some("UNREGISTERED: push token removed".into()), attempts)
                    .await?;
                Ok(Outcome::Dropped)
            }
            Err(SendError::Retryable { retry_after, reason }) if attempts < self.max_attempts => {
                self.retry(row.id, attempts, retry_after, reason).await
            }
            // An operator may fix the credentials: keep the message until the attempts run out.
            Err(SendError::Auth { reason }) if attempts < self.max_attempts => {
                self.retry(row.id, attempts, None, reason).await
            }
            Err(e) => {
                self.set(row.id, "failed", None, Some(e.to_string()), attempts).await?;
                tracing::warn!(outbox_id = %row.id, attempts, error = %e, "push given up");
                Ok(Outcome::Failed)
            }
        }
    }
}
