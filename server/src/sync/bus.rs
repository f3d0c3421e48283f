//! Change notifications for long-polling pulls: writers announce the person
//! whose record changed after commit; waiting pulls wake up. On PostgreSQL a
//! [`Relay`] carries the announcements to every other instance on the same
//! database through LISTEN/NOTIFY, so a poll held by one instance wakes for a
//! write that went through another (docs/scaling.md).

use std::collections::BTreeSet;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;

/// The PostgreSQL channel the instances of one deployment share.
const CHANNEL: &str = "phr_changes";
/// Persons per NOTIFY payload (36 bytes each; the payload limit is 8,000 bytes).
const PER_NOTIFY: usize = 150;

#[derive(Clone)]
pub struct ChangeBus {
    tx: broadcast::Sender<Uuid>,
    /// To the relay, when other instances must hear of local changes too.
    outbound: Option<mpsc::UnboundedSender<Uuid>>,
}

impl Default for ChangeBus {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(1024);
        Self { tx, outbound: None }
    }
}

impl ChangeBus {
    /// A bus whose announcements also go to the other instances, once `Relay::run` runs.
    pub fn relayed() -> (Self, Relay) {
        let (tx, _) = broadcast::channel(1024);
        let (out, pending) = mpsc::unbounded_channel();
        let relay = Relay { tx: tx.clone(), pending, instance: Uuid::new_v4().simple().to_string() };
        (Self { tx, outbound: Some(out) }, relay)
    }

    pub fn notify(&self, person_id: Uuid) {
        // No listener is fine.
        let _ = self.tx.send(person_id);
        if let Some(out) = &self.outbound {
            let _ = out.send(person_id);
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Uuid> {
        self.tx.subscribe()
    }
}

/// Publishes this instance's announcements with `pg_notify` (those that pile up
/// while one is in flight go together in the next) and feeds the other
/// instances' announcements to the local bus. Notifications are a wake-up, not
/// the data: one lost while the listening connection reconnects only delays a
/// poll to its deadline, after which the client's next pull finds the change.
pub struct Relay {
    tx: broadcast::Sender<Uuid>,
    pending: mpsc::UnboundedReceiver<Uuid>,
    /// Tags this instance's payloads, so it does not wake its own pulls twice.
    instance: String,
}

impl Relay {
    /// Runs until the application stops (the task is aborted).
    pub async fn run(self, db: DatabaseConnection, url: String) {
        let Relay { tx, pending, instance } = self;
        tokio::select! {
            () = publish(&db, pending, &instance) => {}
            () = listen(&url, &instance, &tx) => {}
        }
    }
}

async fn publish(db: &DatabaseConnection, mut pending: mpsc::UnboundedReceiver<Uuid>, instance: &str) {
    while let Some(first) = pending.recv().await {
        let mut persons = BTreeSet::from([first]);
        while persons.len() < PER_NOTIFY {
            match pending.try_recv() {
                Ok(p) => {
                    persons.insert(p);
                }
                Err(_) => break,
            }
        }
        let ids: Vec<String> = persons.iter().map(Uuid::to_string).collect();
        let payload = format!("{instance}:{}", ids.join(","));
        let sql = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), payload.into()],
        );
        if let Err(e) = db.execute_raw(sql).await {
            tracing::warn!(error = %e, "could not relay change notifications");
        }
    }
}

async fn listen(url: &str, me: &str, tx: &broadcast::Sender<Uuid>) {
    use sea_orm::sqlx::postgres::PgListener;
    loop {
        let mut listener = match PgListener::connect(url).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "change listener cannot connect; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %e, "change listener cannot LISTEN; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => {
                    let Some((from, ids)) = n.payload().split_once(':') else { continue };
                    if from == me {
                        continue;
                    }
                    for id in ids.split(',').filter_map(|s| Uuid::parse_str(s).ok()) {
                        let _ = tx.send(id);
                    }
                }
                // The connection dropped; the next call reconnects and listens again.
                Ok(None) => tracing::warn!("change listener lost its connection; reconnecting"),
                Err(e) => {
                    tracing::warn!(error = %e, "change listener failed; reconnecting");
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
