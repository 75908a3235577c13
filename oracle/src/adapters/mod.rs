//! LoRA adapters: PEFT parsing, the content-addressed store on disk and the memory tiers.
//!
//! - [`peft`]: reads a PEFT adapter (`adapter_config.json` + `adapter_model.safetensors`) into
//!   an engine [`LoraAdapter`](crate::engine::LoraAdapter), refusing what the engine cannot
//!   serve with an [`AdapterError`] that says what to do;
//! - [`store`]: the adapter files on disk, addressed by their artifact hash;
//! - [`cache`]: the host (and device) tiers, LRU-bounded in bytes.

pub mod cache;
mod error;
pub mod peft;
pub mod store;

pub use error::{AdapterError, AdapterErrorKind, AdapterLimits};
pub use peft::{load_peft, load_peft_bytes, LoadOptions};
