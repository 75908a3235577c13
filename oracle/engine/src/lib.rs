//! # Lineage engine
//!
//! The inference engine of Lineage: a Llama-family model on candle with unmerged multi-LoRA and
//! continuous batching, and the file formats around it. It is a library with no HTTP server,
//! chain client or database, so the oracle, the fine-tuning tool and the benchmark all build on
//! it alone.
//!
//! - [`config`]: the base model's hyper-parameters from a Hugging Face `config.json`;
//! - [`device`]: the device and dtype, as command lines name them;
//! - [`gguf`]: Llama-family models from GGUF files (quantized or dequantized base linears);
//! - [`model`]: weights, per-sequence KV caches and the batched forward step;
//! - [`site`]: the groups of projections that share an input, as the model fuses them;
//! - [`autograd`]: the same forward with gradients, for fine-tuning LoRA adapters;
//! - [`lora`]: adapters held unmerged, applied per row group inside a step ([`merge`]: merged
//!   into the base weights, the reference);
//! - [`qkernels`]: batched CPU matrix multiplies for Q8_0/Q4_0/Q4_1 weights (not yet used by
//!   the model);
//! - [`peft`]: reading and writing PEFT adapters, refusing what the engine cannot serve with an
//!   [`AdapterError`] that says what to do;
//! - [`chat`]: chat templates and tokenisation, from a conversation to prompt tokens;
//! - [`sampling`]: per-request temperature/top-k/top-p with a seed;
//! - [`request`] and [`scheduler`]: the queue, the engine thread and what it streams back;
//! - [`fixture`] (feature `fixture`): a tiny seeded model and PEFT adapters for tests and
//!   benchmarks.
//!
//! Callers talk to a running engine only through [`EngineHandle::submit`] and the events it
//! streams back on a channel; they never touch tensors. The `cuda` feature runs it on an NVIDIA
//! GPU through candle's CUDA backend (cudarc).

mod adapter_error;
mod attention;
pub mod autograd;
pub mod chat;
pub mod config;
pub mod device;
mod error;
#[cfg(feature = "fixture")]
pub mod fixture;
pub mod gguf;
pub mod lora;
pub mod merge;
pub mod model;
pub mod peft;
pub mod qkernels;
pub mod request;
pub mod sampling;
pub mod scheduler;
pub mod site;
mod vecmath;

pub use adapter_error::{AdapterError, AdapterErrorKind, AdapterLimits};
pub use autograd::{LoraDropout, TrainSeq};
pub use chat::{ChatError, ChatTemplate, ChatTurn};
pub use config::{ConfigError, ModelConfig, Proj};
pub use error::ModelError;
pub use gguf::GgufMode;
pub use lora::{LoraAdapter, LoraModule, ModuleInfo};
pub use model::{BaseLinear, KvCache, Model, SeqInput};
pub use peft::{load_peft, load_peft_bytes, write_peft, LoadOptions, LoraConfig};
pub use request::{FinishReason, GenerateEvent, GenerateRequest, SubmitError};
pub use sampling::{Sampler, SamplingParams};
pub use scheduler::{Engine, EngineConfig, EngineHandle, EngineStats};
pub use site::Site;
