//! # Lineage oracle
//!
//! The off-chain half of Lineage: it serves LoRA inference over one base model and posts signed
//! usage proofs back to the Lineage chain, which settles fees by attribution.
//!
//! Modules, as `../shared/DESIGN.md` lays them out:
//! - [`chain`]: the subxt client for the Lineage chain (types generated from the runtime's
//!   metadata), and the one function that submits an extrinsic and waits for finality.
//!
//! The engine, adapter store, HTTP API and journal join as their issues land.

pub mod chain;
