//! # Lineage chain client
//!
//! The client side of the Lineage chain: subxt with types generated from the runtime's
//! metadata, the one function that submits an extrinsic and waits for finality, and the reads
//! every off-chain tool needs. The oracle, the scripted demo and the contract tools use it; it
//! knows nothing of HTTP, inference or the oracle's journal.
//!
//! `oracle/chain/metadata/lineage.scale` is the runtime's metadata; `scripts/metadata`
//! regenerates it and the runtime's `metadata_is_fresh` test fails when it is stale, so the
//! types here always match the runtime in this repository.
//!
//! - [`evaluation`]: posting and reading an adapter's evaluation (its held-out metrics);
//! - [`keys`]: sr25519 keys (a key file or a dev URI) and their accounts;
//! - [`operator`]: registering an oracle operator;
//! - [`payer`]: what a payer signs for each inference request, and the headers that carry it;
//! - [`record`]: what a contributor signs to upload a record to a datanet's record store;
//! - [`time`]: the wall clock in the units signed messages carry.

pub mod evaluation;
pub mod keys;
pub mod operator;
pub mod payer;
pub mod record;
pub mod time;

use subxt::{
	config::PolkadotConfig, extrinsics::ExtrinsicEvents, tx::Payload, utils::AccountId32,
	OnlineClient,
};

/// Types, calls, storage and events of the Lineage runtime, generated from its metadata.
#[subxt::subxt(runtime_metadata_path = "metadata/lineage.scale")]
pub mod lineage {}

/// The subxt configuration of the Lineage chain. Its account, address, signature, hasher and
/// header types are Polkadot's: `AccountId32`, `MultiAddress<AccountId32, ()>`,
/// `MultiSignature`, blake2-256 and `u32` block numbers.
pub type LineageConfig = PolkadotConfig;

/// A client connected to a Lineage node.
pub type LineageClient = OnlineClient<LineageConfig>;

/// The client's own error behind a [`ChainError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What can go wrong talking to the chain.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
	/// The node could not be reached or refused the connection.
	#[error(
		"cannot connect to the Lineage node at {url}: {source}. Is the node running (scripts/dev)?"
	)]
	Connect {
		/// The URL tried.
		url: String,
		/// What the client said.
		#[source]
		source: BoxError,
	},
	/// The extrinsic was rejected by the pool or dropped.
	#[error("extrinsic failed: {0}")]
	Extrinsic(#[source] BoxError),
	/// The extrinsic was included and failed on chain (its dispatch error, by name).
	#[error("extrinsic failed on chain: {0}")]
	Dispatch(String),
	/// A read from the node failed (connection lost, decoding), or the node's answer was not
	/// what was expected.
	#[error("chain RPC: {0}")]
	Rpc(#[source] BoxError),
	/// The chain's state does not allow this oracle to run as configured.
	#[error("{0}")]
	Setup(String),
}

/// `who`'s free balance at `at` (0 for an account that does not exist).
pub async fn free_balance(at: &BlockClient, who: AccountId32) -> Result<u128, ChainError> {
	let v = at
		.storage()
		.try_fetch(lineage::storage().system().account(), (who,))
		.await
		.map_err(rpc_err)?;
	Ok(v.map(|v| v.decode()).transpose().map_err(rpc_err)?.map_or(0, |a| a.data.free))
}

/// `payer`'s escrow balance with `operator` at `at` (0 when there is none).
pub async fn escrow_balance(
	at: &BlockClient,
	payer: AccountId32,
	operator: AccountId32,
) -> Result<u128, ChainError> {
	let v = at
		.storage()
		.try_fetch(lineage::storage().usage().escrows(), (payer, operator))
		.await
		.map_err(rpc_err)?;
	Ok(v.map(|v| v.decode()).transpose().map_err(rpc_err)?.map_or(0, |e| e.balance))
}

/// What the chain says of a payer with one operator: what it may still be charged, and what it
/// has been charged in total.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PayerStanding {
	/// The escrow balance.
	pub escrow: u128,
	/// The amount of a pending withdrawal request (0 when none): it leaves escrow once its
	/// notice passes, so an oracle does not count on it.
	pub withdrawing: u128,
	/// What the operator has charged the payer in total, over all batches (`Usage::Spent`):
	/// the payer's vouchers must cover this and anything more.
	pub spent: u128,
}

/// `payer`'s [`PayerStanding`] with `operator` at `at` (zeros when there is no escrow).
pub async fn payer_standing(
	at: &BlockClient,
	payer: AccountId32,
	operator: AccountId32,
) -> Result<PayerStanding, ChainError> {
	let escrow = at
		.storage()
		.try_fetch(lineage::storage().usage().escrows(), (payer, operator))
		.await
		.map_err(rpc_err)?
		.map(|v| v.decode())
		.transpose()
		.map_err(rpc_err)?;
	let spent = at
		.storage()
		.try_fetch(lineage::storage().usage().spent(), (payer, operator))
		.await
		.map_err(rpc_err)?
		.map(|v| v.decode())
		.transpose()
		.map_err(rpc_err)?
		.unwrap_or(0);
	Ok(PayerStanding {
		escrow: escrow.as_ref().map_or(0, |e| e.balance),
		withdrawing: escrow.and_then(|e| e.withdrawal).map_or(0, |(amount, _)| amount),
		spent,
	})
}

/// `operator`'s registration at `at`, if it is registered.
pub async fn operator_info(
	at: &BlockClient,
	operator: AccountId32,
) -> Result<Option<OperatorInfo>, ChainError> {
	let v = at
		.storage()
		.try_fetch(lineage::storage().usage().operators(), (operator,))
		.await
		.map_err(rpc_err)?;
	v.map(|v| v.decode()).transpose().map_err(rpc_err)
}

/// A client at one block.
pub type BlockClient = subxt::client::ClientAtBlock<
	LineageConfig,
	subxt::client::OnlineClientAtBlockImpl<LineageConfig>,
>;

/// An operator's registration as the chain stores it.
pub type OperatorInfo = lineage::runtime_types::pallet_usage::types::OperatorInfo;

/// Maps any client error to [`ChainError::Rpc`].
pub fn rpc_err(e: impl std::error::Error + Send + Sync + 'static) -> ChainError {
	ChainError::Rpc(Box::new(e))
}

/// Connects to a Lineage node's RPC endpoint (`ws://127.0.0.1:9944` for `scripts/dev`).
/// Plain `ws://` is allowed: the oracle talks to its own node over loopback or a private link.
pub async fn connect(url: &str) -> Result<LineageClient, ChainError> {
	LineageClient::from_insecure_url(url)
		.await
		.map_err(|e| ChainError::Connect { url: url.to_string(), source: Box::new(e) })
}

/// A submitted extrinsic that is in a finalized block and succeeded.
pub struct Finalized {
	/// The hash of the finalized block that holds the extrinsic.
	pub block_hash: subxt::config::substrate::H256,
	/// The extrinsic's events (the `ExtrinsicSuccess` among them).
	pub events: ExtrinsicEvents<LineageConfig>,
}

/// Signs `call` with `signer`, submits it, and waits until it is in a finalized block and its
/// events say it succeeded. Dev-mode nodes report no in-block status, only finality, so this
/// is the one way the oracle submits anything.
pub async fn submit_and_finalize<Call, Signer>(
	client: &LineageClient,
	call: &Call,
	signer: &Signer,
) -> Result<Finalized, ChainError>
where
	Call: Payload,
	Signer: subxt::tx::Signer<LineageConfig>,
{
	fn err(e: impl std::error::Error + Send + Sync + 'static) -> ChainError {
		ChainError::Extrinsic(Box::new(e))
	}
	let progress = client
		.transactions()
		.await
		.map_err(err)?
		.sign_and_submit_then_watch_default(call, signer)
		.await
		.map_err(err)?;
	let in_block = progress.wait_for_finalized().await.map_err(err)?;
	let block_hash = in_block.block_hash();
	let events =
		in_block.wait_for_success().await.map_err(|e| ChainError::Dispatch(e.to_string()))?;
	Ok(Finalized { block_hash, events })
}
