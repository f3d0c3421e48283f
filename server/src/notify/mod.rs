//! Notifications: events become inbox entries and push-outbox rows in the
//! transaction of the change that caused them (`service`); the `worker`
//! delivers the outbox. `fcm` delivers one push message through
//! Firebase Cloud Messaging and says what its answer means for the caller.

pub mod fcm;
pub mod http;
pub mod model;
pub mod service;
pub mod worker;

pub use model::EventKind;
pub use service::{Event, emit};
