//! Organisations of the network (municipalities, hospitals, clinics, labs,
//! pharmacies) and their members' roles. A system administrator creates
//! organisations; an organisation's admins manage its members.

pub mod http;
pub mod service;
pub mod store;
