//! What goes into the engine and what comes back out.

use std::{
	sync::Arc,
	time::{Duration, Instant},
};

use super::{lora::LoraAdapter, sampling::SamplingParams};

/// One generation request, already tokenised.
#[derive(Clone, Debug)]
pub struct GenerateRequest {
	/// The caller's id for the request (logs and spans).
	pub id: String,
	/// Prompt tokens (at least one).
	pub prompt: Vec<u32>,
	/// The adapter to apply, or `None` for the base model.
	pub adapter: Option<Arc<LoraAdapter>>,
	/// How to pick tokens.
	pub sampling: SamplingParams,
	/// The most tokens to generate (the engine also stops at its `max_seq_len`).
	pub max_tokens: usize,
	/// When the caller received the request (queue time counts from here).
	pub submitted_at: Instant,
}

/// Why a sequence stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinishReason {
	/// An end-of-sequence token was sampled (it is not emitted).
	Stop,
	/// `max_tokens` or the engine's `max_seq_len` was reached.
	Length,
}

/// What the engine streams back for a request.
#[derive(Clone, Debug, PartialEq)]
pub enum GenerateEvent {
	/// One generated token.
	Token {
		/// Its id.
		id: u32,
	},
	/// The request is done; nothing follows.
	Finished {
		/// Why it stopped.
		reason: FinishReason,
		/// Prompt tokens processed.
		prompt_tokens: usize,
		/// Tokens emitted as [`GenerateEvent::Token`].
		completion_tokens: usize,
		/// From `submitted_at` to the start of the prefill.
		queue_time: Duration,
		/// From the start of the prefill to the end.
		inference_time: Duration,
	},
	/// The request failed; nothing follows.
	Failed {
		/// What went wrong.
		message: String,
	},
}

/// Why a request was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
	/// The waiting queue is at capacity: try again later (HTTP 429).
	#[error("the engine's queue is full, try again later")]
	QueueFull,
	/// The prompt leaves no room for a generated token within the engine's `max_seq_len`.
	#[error("prompt of {len} tokens is too long: the limit is {max} tokens including the generated ones")]
	PromptTooLong {
		/// Prompt tokens.
		len: usize,
		/// The longest prompt accepted.
		max: usize,
	},
	/// The prompt has no token.
	#[error("the prompt is empty")]
	EmptyPrompt,
}
