//! # Lineage client
//!
//! Lineage from a user's side, against a running chain and oracle: what a payer, an operator
//! setting up, or a dApp developer does with a terminal. It sits apart from the oracle service
//! (which it only talks to over HTTP and the chain), so a reader looking for "how do I use
//! Lineage" finds it in one place, and the service has no client code in it.
//!
//! - [`demo`]: the scripted demo of the whole path (`lineage-oracle demo`, run by
//!   `scripts/dev`), and [`demo::PayerClient`], which sends chat completions signed with a
//!   payer's key;
//! - [`contracts`]: deploy, call and read contracts through pallet-revive with explicit limits,
//!   and the dApp demo (`lineage-oracle contract …`).

pub mod contracts;
pub mod demo;
