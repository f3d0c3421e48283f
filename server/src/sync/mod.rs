//! Offline-first sync: a change feed per device (`GET /v1/sync/changes`) and
//! idempotent pushes of device writes (`POST /v1/sync/push`).
//!
//! Why this cursor: each person has a change counter (`persons.change_seq`)
//! that every writing transaction increments with `UPDATE … RETURNING` and
//! stamps on the rows it writes. The UPDATE takes the person row's lock until
//! commit, so for one person the counter order is the commit order: a reader
//! that has seen change n can never later meet an uncommitted n-1. A global
//! sequence read at insert time lacks that property (transactions commit out of
//! order and a reader skips rows); timestamps lack it too. The cursor is the
//! vector of per-person counters the device has seen, plus the categories each
//! was filtered by, so losing access to a person (or a category) is noticed
//! and answered with `purge`.

pub mod bus;
pub mod clock;
pub mod feed;
pub mod http;
pub mod push;

pub use bus::ChangeBus;
