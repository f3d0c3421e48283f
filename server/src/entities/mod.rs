//! sea-orm entities: the storage shape of each table. Only `store` modules use them.

pub mod account;
pub mod device;
pub mod observation;
pub mod person;
pub mod refresh_token;
