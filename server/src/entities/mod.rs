//! sea-orm entities: the storage shape of each table. Only `store` modules use them.

pub mod access_log;
pub mod account;
pub mod clinical_document;
pub mod device;
pub mod dispensing;
pub mod grant;
pub mod guardian;
pub mod health_fact;
pub mod invitation;
pub mod lab_result;
pub mod observation;
pub mod org_client;
pub mod org_member;
pub mod organization;
pub mod patient_link;
pub mod person;
pub mod prescription;
pub mod qr_scan;
pub mod refresh_token;
pub mod share_code;
pub mod sync_mutation;
pub mod transfer;
