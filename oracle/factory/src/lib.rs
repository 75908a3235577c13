//! # Lineage ModelFactory
//!
//! Fine-tunes a LoRA adapter on the base model from frozen datanet versions, evaluates it on a
//! held-out split, and writes what the rest of Lineage needs to trust it: the PEFT files the
//! oracle serves and a training manifest anyone can re-check. Step 2 ("Train") of the path in
//! `DESIGN.md`.
//!
//! - [`source`]: the records of datanet versions, every byte checked against the chain;
//! - [`data`]: records → chat-formatted examples, loss on the answer tokens, held-out split;
//! - [`config`]: every hyper-parameter of a run;
//! - [`lora`]: the trainable modules (PEFT's initialisation, a parent's weights) and PEFT output;
//! - [`optim`]: AdamW with its state in the open, gradient accumulation and clipping;
//! - [`trainer`]: the loop (deterministic per step, so a resumed run ends where an
//!   uninterrupted one does), [`checkpoint`]s and [`progress`];
//! - [`eval`]: held-out loss, perplexity, token accuracy and exact match, base against adapter;
//! - [`manifest`]: the training manifest and the lineage weights measured from it;
//! - [`history`]: what each step did; [`plot`]: the loss curve;
//! - [`run`]: `train` and `verify` end to end; [`register`]: the adapter on chain.
//!
//! The forward pass with gradients is the engine's ([`lineage_engine::autograd`]).

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod eval;
pub mod history;
pub mod lora;
pub mod manifest;
pub mod optim;
pub mod plot;
pub mod progress;
pub mod register;
pub mod run;
pub mod source;
pub mod trainer;

pub use config::TrainConfig;
pub use manifest::Manifest;

/// The tool's name and version, as manifests record it.
pub const TOOL: &str = concat!("lineage-factory ", env!("CARGO_PKG_VERSION"));
