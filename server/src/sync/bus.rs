//! In-process change notifications for long-polling pulls: writers announce
//! the person whose record changed after commit; waiting pulls wake up.
//! (Several server instances would bridge this with PostgreSQL LISTEN/NOTIFY.)

use tokio::sync::broadcast;
use uuid::Uuid;

#[derive(Clone)]
pub struct ChangeBus {
    tx: broadcast::Sender<Uuid>,
}

impl Default for ChangeBus {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(1024);
        Self { tx }
    }
}

impl ChangeBus {
    pub fn notify(&self, person_id: Uuid) {
        // No listener is fine.
        let _ = self.tx.send(person_id);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Uuid> {
        self.tx.subscribe()
    }
}
