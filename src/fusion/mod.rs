//! Fusion: who took what. So far it owns the per-visit cart ledger
//! ([`ledger`]): the cart at any moment is derived from the append-only
//! cart events alone.

pub mod ledger;
