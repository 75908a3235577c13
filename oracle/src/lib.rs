//! # Lineage oracle
//!
//! The off-chain half of Lineage: it serves LoRA inference over one base model and posts signed
//! usage proofs back to the Lineage chain, which settles fees by attribution.
//!
//! Modules, as `../shared/DESIGN.md` lays them out:
//! - [`chain`]: the subxt client for the Lineage chain (types generated from the runtime's
//!   metadata), and the one function that submits an extrinsic and waits for finality.
//! - [`engine`]: the Llama-family model on candle, unmerged multi-LoRA and continuous batching.
//! - [`adapters`]: PEFT adapter parsing, the adapter store and its memory tiers.
//! - [`api`]: the OpenAI-compatible HTTP server (axum), adapter management and metrics.
//! - [`journal`]: the durable usage journal (redb): records, batches and their way to the chain.

pub mod adapters;
pub mod api;
pub mod chain;
pub mod contracts;
pub mod demo;
pub mod engine;
pub mod journal;
