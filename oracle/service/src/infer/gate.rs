//! Admission before any inference: who may run a request and who pays for it.

use futures::future::BoxFuture;
use lineage_primitives::{AdapterId, Hash};

use super::{error::InferError, usage::Voucher};

/// What a generation request asks of the [`RequestGate`], once it is parsed and tokenised and
/// before any inference runs.
#[derive(Clone, Debug)]
pub struct GateRequest<'a> {
	/// The verified payer of a signed request, if the request was signed.
	pub payer: Option<[u8; 32]>,
	/// The payer's signed authorisation (with its spend limit), if the request was signed.
	pub voucher: Option<&'a Voucher>,
	/// The model name the request named.
	pub model: &'a str,
	/// The adapter's artifact hash, `None` for the base model.
	pub adapter: Option<Hash>,
	/// Prompt tokens.
	pub prompt_tokens: usize,
	/// The most tokens it may generate.
	pub max_tokens: usize,
}

/// A request the [`RequestGate`] let through. Dropping it (when the request ends, after its
/// usage is recorded) releases whatever the gate held for it, such as an escrow reservation.
pub struct GatePass {
	/// Who pays for it.
	pub payer: Option<[u8; 32]>,
	/// The adapter's id on chain.
	pub chain_adapter: Option<AdapterId>,
	/// What the gate counts against the payer's spend limit, this request included at its
	/// most (the response's `x-lineage-spent`), when it counts one.
	pub spent: Option<u128>,
	/// The finalized block whose chain state admitted it (the block its price was quoted at),
	/// when a chain gate admitted it.
	pub served_at: Option<u32>,
	/// Released on drop.
	pub hold: Option<Box<dyn Send + Sync>>,
}

impl GatePass {
	/// A pass with no payer, no chain adapter and nothing held.
	pub fn open() -> Self {
		GatePass { payer: None, chain_adapter: None, spent: None, served_at: None, hold: None }
	}
}

/// Decides, before any inference, whether a request may run and who pays for it. The chain
/// mode's gate checks the adapter against the chain's registry and the payer's escrow
/// (`chain::gate`); [`OpenGate`] lets everything through.
pub trait RequestGate: Send + Sync {
	/// Admit the request or refuse it with the error the caller gets.
	fn admit<'a>(&'a self, req: GateRequest<'a>) -> BoxFuture<'a, Result<GatePass, InferError>>;
}

/// The gate of a server not joined to a chain: every request passes, nobody pays.
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenGate;

impl RequestGate for OpenGate {
	fn admit<'a>(&'a self, _req: GateRequest<'a>) -> BoxFuture<'a, Result<GatePass, InferError>> {
		Box::pin(async { Ok(GatePass::open()) })
	}
}
