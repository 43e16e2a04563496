//! Visits: entry tokens ([`token`]), the reference entry client
//! ([`client`]), and the gate ([`gate`]) that verifies a token, places the
//! pre-authorisation hold and opens the visit.

pub mod client;
pub mod exit;
pub mod gate;
pub mod hold;
pub mod token;
