//! The inference engine: a Llama-family model on candle with unmerged multi-LoRA and
//! continuous batching.
//!
//! - [`config`]: the base model's hyper-parameters from a Hugging Face `config.json`;
//! - [`gguf`]: Llama-family models from GGUF files (quantized or dequantized base linears);
//! - [`model`]: weights, per-sequence KV caches and the batched forward step;
//! - [`lora`]: adapters held unmerged, applied per row group inside a step;
//! - [`sampling`]: per-request temperature/top-k/top-p with a seed;
//! - [`request`] and [`scheduler`]: the queue, the engine thread and what it streams back;
//! - [`fixture`]: a tiny seeded model and PEFT adapters for tests and benchmarks;
//! - [`bench`]: the multi-LoRA serving benchmark.
//!
//! The HTTP layer talks to the engine only through [`EngineHandle::submit`] and the events it
//! streams; it never touches tensors.

mod attention;
pub mod bench;
pub mod config;
pub mod fixture;
pub mod gguf;
pub mod lora;
pub mod model;
pub mod request;
pub mod sampling;
pub mod scheduler;
mod vecmath;

pub use config::{ConfigError, ModelConfig, Proj};
pub use gguf::GgufMode;
pub use lora::{LoraAdapter, LoraModule, ModuleInfo};
pub use model::{BaseLinear, KvCache, Model, ModelError, SeqInput};
pub use request::{FinishReason, GenerateEvent, GenerateRequest, SubmitError};
pub use sampling::{Sampler, SamplingParams};
pub use scheduler::{Engine, EngineConfig, EngineHandle, EngineStats};
