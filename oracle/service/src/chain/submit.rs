//! The operator account's transactions: one [`Submitter`] signs and sends everything the oracle
//! submits (usage batches, settlements, job answers) and manages the account's nonce, so that
//! several transactions can wait for finality at once without racing for a nonce.
//!
//! - **Nonces.** Only the step that picks a nonce, signs and hands the transaction to the pool
//!   is serialised (one mutex, held for one round trip to the node). The nonce is the higher of
//!   the one after the last transaction the pool took and the account's nonce at the finalized
//!   block (so transactions sent by other tools with this account are accounted for). Waiting
//!   for finality happens outside the lock: the answers of several jobs finalize in one block.
//! - **Pool refusals for the nonce** (outdated; or the nonce already taken in the pool: priority
//!   too low, already imported) move to the next nonce and try again at once, a few times.
//! - **A transaction that leaves the pool** without being finalized (invalid, dropped, or no
//!   finality within the timeout) lowers the next nonce to its own, so the gap it leaves is filled
//!   by the next transaction (transactions are mortal, 32 blocks: one stuck behind a gap dies).
//! - Every call the oracle submits is idempotent on chain (a batch's sequence number, a job's
//!   state), so a transaction sent twice — a retry after a lost watch — is refused by the pallet
//!   the second time, never applied twice.
//!
//! Errors are those of [`lineage_chain::submit_and_finalize`]: `Dispatch` (included, and the
//! pallet refused it) or `Extrinsic`/`Rpc` (it never got that far); [`super::retry`] tells them
//! apart.

use std::time::Duration;

use subxt::{
	client::OnlineClientAtBlockImpl,
	config::DefaultExtrinsicParamsBuilder,
	error::TransactionEventsError,
	transactions::{Payload, TransactionInBlock, TransactionProgress, TransactionStatus},
	utils::AccountId32,
};
use subxt_signer::sr25519::Keypair;

use lineage_chain::{keys::account_of, rpc_err, Finalized, LineageClient, LineageConfig};

use super::error::ClientError;

/// How many nonces one submission tries when the pool says the nonce is used.
const NONCE_TRIES: u32 = 32;

type Progress = TransactionProgress<LineageConfig, OnlineClientAtBlockImpl<LineageConfig>>;
type InBlock = TransactionInBlock<LineageConfig, OnlineClientAtBlockImpl<LineageConfig>>;

/// A transaction the pool took: still to be finalized, or finalized already.
enum Accepted {
	Watching(Progress),
	Finalized(InBlock),
}

/// Signs and submits the operator account's transactions (see the module doc).
pub struct Submitter {
	key: Keypair,
	account: AccountId32,
	/// The nonce after the last transaction the pool took (`None`: ask the chain).
	next: tokio::sync::Mutex<Option<u64>>,
	finality_timeout: Duration,
}

/// Why the pool refused a transaction, as far as its nonce goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NonceRefusal {
	/// The nonce is used (on chain, or by a transaction in the pool): try the next one.
	Taken,
	/// Something else: report it.
	Other,
}

fn nonce_refusal(message: &str) -> NonceRefusal {
	let m = message.to_lowercase();
	let taken = ["outdated", "stale", "priority", "already imported"];
	if taken.iter().any(|t| m.contains(t)) {
		NonceRefusal::Taken
	} else {
		NonceRefusal::Other
	}
}

fn extrinsic_err(message: impl Into<String>) -> ClientError {
	ClientError::Extrinsic(message.into().into())
}

impl Submitter {
	/// A submitter for `key`'s account, waiting at most `finality_timeout` for a transaction
	/// the pool took to be finalized.
	pub fn new(key: Keypair, finality_timeout: Duration) -> Self {
		let account = account_of(&key);
		Submitter { key, account, next: tokio::sync::Mutex::new(None), finality_timeout }
	}

	/// The key that signs the transactions.
	pub fn key(&self) -> &Keypair {
		&self.key
	}

	/// Signs `call`, submits it, and waits until it is in a finalized block and its events say
	/// it succeeded (a `Dispatch` error when the pallet refused it).
	pub async fn submit<Call: Payload>(
		&self,
		client: &LineageClient,
		call: &Call,
	) -> Result<Finalized, ClientError> {
		let (accepted, nonce) = self.enter_pool(client, call).await?;
		let in_block = match accepted {
			Accepted::Finalized(in_block) => in_block,
			Accepted::Watching(progress) => {
				match tokio::time::timeout(self.finality_timeout, finalized(progress)).await {
					Ok(Ok(in_block)) => in_block,
					Ok(Err(e)) => {
						self.left_pool(nonce).await;
						return Err(e);
					},
					Err(_) => {
						self.left_pool(nonce).await;
						return Err(extrinsic_err(format!(
							"timed out after {} s waiting for the transaction to be finalized",
							self.finality_timeout.as_secs()
						)));
					},
				}
			},
		};
		let block_hash = in_block.block_hash();
		let events = in_block.wait_for_success().await.map_err(|e| match e {
			TransactionEventsError::ExtrinsicFailed(_) => ClientError::Dispatch(e.to_string()),
			other => rpc_err(other),
		})?;
		Ok(Finalized { block_hash, events })
	}

	/// Picks a nonce, signs `call` with it and hands it to the pool, under the lock; returns the
	/// transaction's progress and its nonce.
	async fn enter_pool<Call: Payload>(
		&self,
		client: &LineageClient,
		call: &Call,
	) -> Result<(Accepted, u64), ClientError> {
		let mut next = self.next.lock().await;
		let mut last = String::new();
		for _ in 0..NONCE_TRIES {
			let at = client.at_current_block().await.map_err(rpc_err)?;
			let mut txs = at.transactions();
			let on_chain = txs.account_nonce(&self.account).await.map_err(rpc_err)?;
			let nonce = next.map_or(on_chain, |n| n.max(on_chain));
			let params = DefaultExtrinsicParamsBuilder::<LineageConfig>::new().nonce(nonce).build();
			let tx = txs
				.create_signed(call, &self.key, params)
				.await
				.map_err(|e| ClientError::Extrinsic(Box::new(e)))?;
			// The node refuses a used nonce either at once, as an RPC error (legacy backends:
			// 1010 outdated, 1014 priority too low), or as the first status of the watch.
			let mut progress = match tx.submit_and_watch().await {
				Ok(progress) => progress,
				Err(e) if nonce_refusal(&e.to_string()) == NonceRefusal::Taken => {
					tracing::debug!(nonce, reason = %e, "nonce in use; trying the next");
					*next = Some(nonce + 1);
					last = e.to_string();
					continue;
				},
				Err(e) => return Err(ClientError::Extrinsic(Box::new(e))),
			};
			// The first status says whether the pool took it.
			let message = match progress.next().await {
				Some(Ok(TransactionStatus::InFinalizedBlock(in_block))) => {
					*next = Some(nonce + 1);
					return Ok((Accepted::Finalized(in_block), nonce));
				},
				Some(Ok(
					TransactionStatus::Invalid { message }
					| TransactionStatus::Error { message }
					| TransactionStatus::Dropped { message },
				)) => message,
				Some(Ok(_)) => {
					*next = Some(nonce + 1);
					return Ok((Accepted::Watching(progress), nonce));
				},
				Some(Err(e)) => return Err(ClientError::Extrinsic(Box::new(e))),
				None => {
					return Err(extrinsic_err("the node ended the transaction's status stream"))
				},
			};
			match nonce_refusal(&message) {
				NonceRefusal::Taken => {
					tracing::debug!(nonce, reason = %message, "nonce in use; trying the next");
					*next = Some(nonce + 1);
					last = message;
				},
				NonceRefusal::Other => {
					return Err(extrinsic_err(format!(
						"the pool refused the transaction: {message}"
					)))
				},
			}
		}
		Err(extrinsic_err(format!(
			"{NONCE_TRIES} nonces in a row were in use (last: {last}); trying again later"
		)))
	}

	/// The transaction with `nonce` left the pool unfinalized: its nonce may be free again.
	async fn left_pool(&self, nonce: u64) {
		let mut next = self.next.lock().await;
		*next = Some(next.map_or(nonce, |n| n.min(nonce)));
	}
}

/// Waits for `progress` to reach a finalized block.
async fn finalized(mut progress: Progress) -> Result<InBlock, ClientError> {
	while let Some(status) = progress.next().await {
		match status.map_err(|e| ClientError::Extrinsic(Box::new(e)))? {
			TransactionStatus::InFinalizedBlock(in_block) => return Ok(in_block),
			TransactionStatus::Invalid { message }
			| TransactionStatus::Error { message }
			| TransactionStatus::Dropped { message } => {
				return Err(extrinsic_err(format!(
					"the transaction left the pool unfinalized: {message}"
				)))
			},
			_ => continue,
		}
	}
	Err(extrinsic_err("the node ended the transaction's status stream before finality"))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn nonce_refusals_are_told_from_other_refusals() {
		for m in [
			"Invalid transaction: Transaction is outdated",
			"The priority of the transaction is too low (pool 1 > current 1)",
			"Transaction is already imported",
			"1014: Priority is too low: (1 vs 1)",
		] {
			assert_eq!(nonce_refusal(m), NonceRefusal::Taken, "{m}");
		}
		for m in [
			"Invalid transaction: Inability to pay some fees (e.g. account balance too low)",
			"Invalid transaction: Transaction has a bad signature",
		] {
			assert_eq!(nonce_refusal(m), NonceRefusal::Other, "{m}");
		}
	}
}
