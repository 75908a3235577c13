//! The HTTP API: OpenAI-compatible generation over the base model and its LoRA adapters,
//! adapter management in vLLM's names, Prometheus metrics.
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/completions` | text completion (`prompt`: text or token ids); `stream: true` → SSE |
//! | `POST /v1/chat/completions` | chat completion (`messages`, rendered by [`lineage_engine::chat::render_chat`]) |
//! | `GET /v1/models` | the base model, then each served adapter (`parent` = the base's id) |
//! | `POST /v1/load_lora_adapter` | `{lora_name, lora_path}`: import into the store, validate, serve |
//! | `POST /v1/unload_lora_adapter` | `{lora_name}`: stop serving the name (then 404, as vLLM) |
//! | `GET /v1/usage/{id}` | a request's usage record, the payer's signed authorisation and its Merkle proof against the batch root (chain mode) |
//! | `GET /metrics` | Prometheus text, every metric named `lineage_*` |
//! | `GET /health` | 200 and the engine's counters |
//!
//! `model` is the base model's id, an adapter's name, or an adapter's artifact hash (`0x…`) when
//! a served name points at it.
//!
//! In chain mode ([`Services`] with a [`payer::PayerAuth`] and the chain's
//! [`RequestGate`](crate::infer::gate::RequestGate)), the
//! two generation routes take only requests signed by their payer ([`payer`]), the gate
//! checks the adapter's registration and the payer's escrow before any inference, and the two
//! adapter-management routes take only the operator's bearer token ([`admin`]).
//!
//! How a request flows (as TGI's router does it): a semaphore admits it or answers 429
//! (its size is the engine's batch plus its queue, unless configured); the handler validates
//! the OpenAI fields and hands the rest to the inference layer ([`crate::infer`]), which
//! tokenises on the blocking pool, gets the adapter from the cache, submits it to the engine
//! and hands the token receiver to a per-request driver that reports the finished request to
//! the usage sink before the last text event, so before the response completes. Handlers never
//! touch tensors.
//! Connections are accepted by [`listen`] (a header read timeout, a cap on open connections).
//! Every error goes through [`error::ApiError`], mapped to a status code in one place.

pub mod admin;
pub mod error;
pub mod evidence;
pub mod listen;
pub mod openai;
pub mod payer;
pub mod prompt;
pub mod routes;
pub mod server;
pub mod sse;
pub mod state;

pub use error::ApiError;
pub use server::{
	build_state, build_state_with, router, serve, serve_with, ServerConfig, Services,
};
pub use state::AppState;
