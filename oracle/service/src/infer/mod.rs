//! The inference layer, in the manner of TGI's `Infer`: everything one completion needs that is
//! not a transport. The HTTP API ([`crate::api`]) and the on-chain job runner
//! ([`crate::chain::jobs`]) both call it, and neither calls the other.
//!
//! - [`state`]: [`Infer`], started from an [`InferConfig`]: the model, the engine, the adapter
//!   store and cache, the chat template, admission, metrics, the gate and the usage sink;
//! - [`generate`]: one generation: admission (a semaphore; beyond it, [`InferError::Overloaded`]),
//!   prompt building and tokenising on the blocking pool, the gate, the adapter, the engine,
//!   and the per-request driver that produces the usage record; and in-process completions for
//!   on-chain jobs;
//! - [`adapters`]: loading and unloading served adapters by name;
//! - [`text`]: incremental detokenisation, stop strings and the driver;
//! - [`gate`]: who may run a request and who pays ([`gate::RequestGate`]);
//! - [`lineage`]: per-answer attribution to the records of the adapter's training versions;
//! - [`usage`]: the record of a finished request and where it goes ([`usage::UsageSink`]);
//! - [`error`]: [`InferError`], which the HTTP layer maps to status codes.

pub mod adapters;
pub mod error;
pub mod gate;
pub mod generate;
pub mod lineage;
pub mod state;
pub mod text;
pub mod usage;

pub use error::InferError;
pub use state::{Infer, InferConfig};
