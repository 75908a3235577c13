//! # Lineage oracle
//!
//! The off-chain service of Lineage: it serves LoRA inference over one base model, answers
//! on-chain jobs, journals usage and posts signed usage proofs back to the chain, which settles
//! fees by attribution. The engine, the adapter store, the chain client and the benchmark are
//! crates of their own ([`lineage_engine`], [`lineage_adapters`], [`lineage_chain`],
//! [`lineage_bench`]); this crate wires them into a service.
//!
//! Modules, from the inside out:
//! - [`infer`]: the transport-neutral inference layer (admission, prompt building, the engine,
//!   the usage record) that both the HTTP API and the on-chain job runner call;
//! - [`api`]: the OpenAI-compatible HTTP server (axum), adapter management, payer signatures;
//! - [`journal`]: the durable usage journal (redb): records, batches and their way to the chain;
//! - [`chain`]: the oracle joined to the chain: registry sync, admission, batch proofs and
//!   settlement, on-chain jobs;
//! - [`metrics`]: the Prometheus metrics every layer updates;
//! - [`cli`]: the work behind each command of the `lineage-oracle` binary.

pub mod api;
pub mod chain;
pub mod cli;
pub mod infer;
pub mod journal;
pub mod metrics;
