//! Public-health programmes run by municipalities: residents enrol (an org
//! grant for the programme's categories, purpose `public_health`) and leave
//! at any moment; the municipality's nurses list enrolled residents, write
//! guidance notes, and see aggregate statistics with small cells suppressed.

pub mod http;
pub mod notes;
pub mod service;
pub mod stats;
