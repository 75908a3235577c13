//! The oracle joined to the chain (through [`lineage_chain`], the subxt client):
//!
//! - [`link`]: the one connection everything shares, replaced when the node comes back;
//! - [`registry`]: the registered adapters by artifact hash;
//! - [`gate`]: chain mode's admission (registry, stored bytes, escrow) and usage journaling;
//! - [`proofs`]: batches cut, signed, submitted, finalized and settled;
//! - [`jobs`]: on-chain inference jobs answered through the inference layer, several at once;
//! - [`submit`]: the operator account's transactions, their nonces kept in order;
//! - [`retry`]: transient failures told from permanent ones, and tried again with backoff;
//! - [`trace`]: adapters' training versions and their verified records, for attribution;
//! - [`service`]: the connection, the registry sync and the proof loop, reconnecting;
//! - [`error`]: what they fail with.
//!
//! Nothing here imports the HTTP layer: requests reach the chain side through the inference
//! layer's [`RequestGate`](crate::infer::gate::RequestGate) and
//! [`UsageSink`](crate::infer::usage::UsageSink).

pub mod error;
pub mod gate;
pub mod jobs;
pub mod link;
pub mod proofs;
pub mod registry;
pub mod retry;
pub mod service;
pub mod submit;
pub mod trace;

pub use error::ChainError;
