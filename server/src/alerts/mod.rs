//! Threshold alerts on observations: rules a person (or their guardian) sets
//! on their own record, and rules an organization sets for every person who
//! shares that kind of data with it. Rules are evaluated inside the
//! transaction that stores the observations, reading only the rules and
//! recent readings of the kinds that arrived.

pub mod http;
pub mod service;
