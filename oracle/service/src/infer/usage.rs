//! What a finished request leaves behind: the [`FinishedRequest`] the usage journal records, and
//! the [`UsageSink`] it is handed to before the response completes.

use lineage_primitives::{AdapterId, Hash};

/// A payer's signed authorisation of one request, as the usage journal keeps it and a batch
/// carries it to the chain: its spend limit bounds what the chain lets this operator charge the
/// payer in total ([`lineage_primitives::payer`]).
pub use lineage_primitives::payer::Voucher;

/// One finished request, as the usage journal records it.
#[derive(Clone, Debug, PartialEq)]
pub struct FinishedRequest {
	/// The response id (`cmpl-…`, `chatcmpl-…`).
	pub id: String,
	/// The model name the request named (an adapter's name or the base model's id).
	pub model: String,
	/// The adapter's artifact hash; `None` for the base model.
	pub adapter: Option<Hash>,
	/// Prompt tokens.
	pub prompt_tokens: usize,
	/// Generated tokens (counted up to a stop string, when one ended the request).
	pub completion_tokens: usize,
	/// sha256 of the response text as returned (after stop strings are trimmed).
	pub response_sha256: [u8; 32],
	/// When it finished, milliseconds since the Unix epoch.
	pub unix_time_ms: u64,
	/// Why it finished.
	pub finish_reason: Finish,
	/// Who pays for it (the verified payer of a signed request), when the server requires one.
	pub payer: Option<[u8; 32]>,
	/// The payer's signed authorisation of the request, when it was signed.
	pub voucher: Option<Voucher>,
	/// The adapter's id on chain, when the [`RequestGate`](super::gate::RequestGate) resolved
	/// one.
	pub chain_adapter: Option<AdapterId>,
	/// The finalized block the gate admitted it at, when a chain gate did.
	pub served_at: Option<u32>,
	/// The answer's attribution, when the adapter has training versions to trace.
	pub lineage: Option<super::lineage::Lineage>,
}

/// Why a [`UsageSink`] could not record a request (the journal's own error, boxed).
pub type SinkError = Box<dyn std::error::Error + Send + Sync>;

/// Where finished requests are reported: called once per successful request, from the blocking
/// pool, before the response completes (before the last SSE chunk, before the JSON body is
/// sent). The usage journal plugs in here.
pub trait UsageSink: Send + Sync {
	/// Record one finished request. An error fails the request (the client gets an error, not
	/// an answer that was never recorded).
	fn record(&self, rec: &FinishedRequest) -> Result<(), SinkError>;
}

/// A sink that records nothing (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopSink;

impl UsageSink for NoopSink {
	fn record(&self, _rec: &FinishedRequest) -> Result<(), SinkError> {
		Ok(())
	}
}

/// Why generation ended, as OpenAI names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
	/// An end-of-sequence token or a stop string.
	Stop,
	/// `max_tokens` (or the context) ran out.
	Length,
	/// The client hung up before the end: recorded for the prompt and the tokens sent, never
	/// answered.
	Disconnected,
}

impl Finish {
	/// `stop` or `length`.
	pub fn as_str(self) -> &'static str {
		match self {
			Finish::Stop => "stop",
			Finish::Length => "length",
			Finish::Disconnected => "disconnected",
		}
	}
}
