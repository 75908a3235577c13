//! The work behind each of `lineage-oracle`'s commands (the binary itself only parses them):
//!
//! - [`serve`]: the OpenAI-compatible HTTP server, standalone or joined to the chain;
//! - [`fixture`]: the fixture model and adapters, imported into a store;
//! - [`key`]: the operator's key and its registration on chain;
//! - [`contract`]: contracts through pallet-revive, and the dApp demo.
//!
//! `bench` is [`lineage_bench::cli`]; `demo` is [`lineage_client::demo`].

pub mod contract;
pub mod fixture;
pub mod key;
pub mod serve;
