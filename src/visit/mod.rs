//! Visits: entry tokens ([`token`]), the reference entry client
//! ([`client`]), and the gate ([`gate`]) that verifies a token, places the
//! pre-authorisation hold and opens the visit.

pub mod client;
pub mod gate;
pub mod token;
