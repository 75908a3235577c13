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
//! - [`datanet_demo`]: a datanet filled from a real corpus ([`corpus`], WordNet question →
//!   answer records), its bytes uploaded to a record store with signed uploads, curated at the
//!   store's measured token counts, frozen in two versions and verified byte for byte against
//!   the chain (`lineage-oracle datanet-demo`);
//! - [`train_demo`]: a trained adapter loaded into the oracle, a held-out question asked of the
//!   base and the adapter, and its evaluation read back from the chain (`lineage-oracle
//!   train-demo`);
//! - [`contracts`]: deploy, call and read contracts through pallet-revive with explicit limits,
//!   and the dApp demo (`lineage-oracle contract …`).

pub mod contracts;
pub mod corpus;
pub mod datanet_demo;
pub mod demo;
pub mod train_demo;
