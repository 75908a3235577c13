//! On-chain inference jobs: the oracle answers the completions contracts and wallets request on
//! chain (pallet-jobs), and submits each answer signed with its operator key.
//!
//! - **Which jobs**: the follow loop queues the id of every `Jobs::JobRequested` event in a
//!   finalized block ([`JobQueue::push`]); at start, every pending job in storage is queued (jobs
//!   requested while the oracle was down). A job asking for another operator is skipped.
//! - **The answer**: the prompt is the user's message to the adapter; the most tokens generated
//!   are what the job allows and what its fee ceiling pays for at the adapter's price (the
//!   higher of the price in force and a scheduled one). A job whose ceiling pays for no token is
//!   given up (it expires on chain and the requester is refunded).
//! - **Journaled**: the signed fulfilment is written to the journal before it is submitted, and
//!   marked done once the chain has it. After a crash a journaled answer is submitted again, with
//!   the same bytes, never computed again; a job the chain already fulfilled is marked done. So a
//!   kill -9 neither loses a job nor answers it twice.
//! - **Claimed first**: a job open to any operator is claimed on chain (`Jobs::claim`) before
//!   its answer is computed; a job another operator holds a live claim on is skipped.
//! - Jobs are answered on the proof loop's task, after each proof round, so the operator
//!   account's transactions never race for a nonce.

use std::{
	collections::BTreeSet,
	sync::{Arc, Mutex},
};

use codec::{Decode, Encode};
use lineage_primitives::jobs::{fulfilment_payload, response_hash, Fulfilment, JobId};
use subxt::utils::AccountId32;
use subxt_signer::sr25519::Keypair;

use lineage_chain::{
	keys::account_of,
	lineage::{self, runtime_types::pallet_jobs::JobState},
	rpc_err, submit_and_finalize, LineageClient,
};
use lineage_engine::SamplingParams;

use super::{
	error::{ChainError, ClientError},
	registry::Registry,
};
use crate::{
	infer::Infer,
	journal::{JobEntry, Journal},
};

/// The ids of jobs to look at, in order.
#[derive(Debug, Default)]
pub struct JobQueue {
	ids: Mutex<BTreeSet<JobId>>,
}

impl JobQueue {
	/// Queues `job`.
	pub fn push(&self, job: JobId) {
		self.ids.lock().unwrap_or_else(|e| e.into_inner()).insert(job);
	}

	/// Takes every queued id.
	fn drain(&self) -> Vec<JobId> {
		std::mem::take(&mut *self.ids.lock().unwrap_or_else(|e| e.into_inner()))
			.into_iter()
			.collect()
	}
}

/// What one round of jobs did, for logs and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobsReport {
	/// Jobs answered and fulfilled on chain this round.
	pub fulfilled: Vec<JobId>,
	/// Jobs given up, with the reason.
	pub given_up: Vec<(JobId, String)>,
}

/// Queues every pending job in storage (at start, for jobs requested while the oracle was down).
pub async fn queue_pending(client: &LineageClient, queue: &JobQueue) -> Result<usize, ChainError> {
	let at = client.at_current_block().await.map_err(rpc_err)?;
	let entry = at.storage().entry(lineage::storage().jobs().jobs()).map_err(rpc_err)?;
	let mut iter = entry.iter(()).await.map_err(rpc_err)?;
	let mut n = 0;
	while let Some(kv) = iter.next().await {
		let kv = kv.map_err(rpc_err)?;
		let (id,) = kv.key().map_err(rpc_err)?.decode().map_err(rpc_err)?;
		let job = kv.value().decode().map_err(rpc_err)?;
		if matches!(job.state, JobState::Pending) {
			queue.push(id);
			n += 1;
		}
	}
	Ok(n)
}

/// A signed answer: the SCALE bytes of the fulfilment and the operator key's signature.
type SignedAnswer = (Vec<u8>, [u8; 64]);

/// Everything a round of jobs needs.
pub struct JobRunner {
	/// The ids to look at.
	pub queue: Arc<JobQueue>,
	/// The operator's key (it signs fulfilments and pays their transactions).
	pub key: Keypair,
	/// The journal.
	pub journal: Arc<Journal>,
	/// The adapters on chain.
	pub registry: Arc<Registry>,
	/// The server (its engine answers jobs).
	pub infer: Infer,
	/// The chain's genesis hash (in every signed payload).
	pub genesis: [u8; 32],
}

impl JobRunner {
	/// Looks at every queued job: answers, resubmits or skips it. A job that fails for a
	/// reason that may pass (the node away) is queued again.
	pub async fn round(&self, client: &LineageClient) -> Result<JobsReport, ChainError> {
		let mut report = JobsReport::default();
		let ids = self.queue.drain();
		for (i, &id) in ids.iter().enumerate() {
			if let Err(e) = self.one(client, id, &mut report).await {
				// Keep this and the rest for the next round.
				for &later in &ids[i..] {
					self.queue.push(later);
				}
				return Err(e);
			}
		}
		Ok(report)
	}

	async fn one(
		&self,
		client: &LineageClient,
		id: JobId,
		report: &mut JobsReport,
	) -> Result<(), ChainError> {
		let (fulfilment, signature) = match self.journal.job(id)? {
			Some(JobEntry::Done { .. }) => return Ok(()),
			Some(JobEntry::Answered { fulfilment, signature }) => {
				tracing::info!(job = id, "answer journaled before a restart: submitting it again");
				(fulfilment, signature)
			},
			None => match self.answer(client, id).await? {
				Some(answered) => answered,
				None => return Ok(()),
			},
		};
		self.submit(client, id, fulfilment, signature, report).await
	}

	/// Reads job `id` and answers it: `None` when there is nothing to do (not pending, another
	/// operator's, given up).
	async fn answer(
		&self,
		client: &LineageClient,
		id: JobId,
	) -> Result<Option<SignedAnswer>, ChainError> {
		let at = client.at_current_block().await.map_err(rpc_err)?;
		let Some(job) = at
			.storage()
			.try_fetch(lineage::storage().jobs().jobs(), (id,))
			.await
			.map_err(rpc_err)?
			.map(|v| v.decode())
			.transpose()
			.map_err(rpc_err)?
		else {
			return Ok(None);
		};
		let operator = account_of(&self.key);
		if !matches!(job.state, JobState::Pending) || job.operator.is_some_and(|o| o != operator) {
			return Ok(None);
		}
		// An open job is answered only under this operator's live claim: claim it before
		// computing, so the answer cannot be copied from the pool by another operator.
		if job.operator.is_none() {
			let now = at.block_number();
			match &job.claim {
				Some((who, until)) if u64::from(*until) > now && *who != operator => {
					tracing::info!(job = id, "another operator holds a live claim on the job");
					return Ok(None);
				},
				Some((who, until)) if u64::from(*until) > now && *who == operator => {},
				_ => {
					let call = lineage::tx().jobs().claim(id);
					match submit_and_finalize(client, &call, &self.key).await {
						Ok(_) => tracing::info!(job = id, "job claimed"),
						Err(ClientError::Dispatch(reason)) => {
							tracing::info!(job = id, %reason, "the job could not be claimed");
							return Ok(None);
						},
						Err(e) => {
							self.queue.push(id);
							return Err(e.into());
						},
					}
				},
			}
		}
		let give_up = |reason: String| -> Result<Option<SignedAnswer>, ChainError> {
			tracing::warn!(job = id, %reason, "job given up: it will expire and refund the requester");
			self.journal.set_job(id, &JobEntry::Done { outcome: reason })?;
			Ok(None)
		};
		let Some((hash, terms)) = self.registry.entry(job.adapter) else {
			return give_up(format!("adapter {} is not in the registry", job.adapter));
		};
		let prompt = match String::from_utf8(job.prompt.0) {
			Ok(p) => p,
			Err(_) => return give_up("the prompt is not UTF-8".into()),
		};
		let max_output = u64::from(job.max_output_tokens);
		let max_fee = job.max_fee;
		let budget = move |prompt_tokens: usize| {
			affordable_output(
				max_fee,
				prompt_tokens as u64,
				terms.per_1k_input,
				terms.per_1k_output,
			)
			.min(max_output) as usize
		};
		let sampling = SamplingParams {
			temperature: f64::from(job.sampling.temperature_milli) / 1_000.0,
			top_p: Some(f64::from(job.sampling.top_p_milli) / 1_000.0),
			top_k: None,
			seed: job.sampling.seed,
			ignore_eos: false,
		};
		let answer = match self.infer.complete(hash, prompt, budget, sampling).await {
			Ok(answer) => answer,
			Err(e) => return give_up(format!("inference refused it: {e}")),
		};
		let max_bytes = at
			.constants()
			.entry(lineage::constants().jobs().max_output_length())
			.map_err(rpc_err)? as usize;
		let output = truncate_utf8(answer.text, max_bytes).into_bytes();
		let fulfilment = Fulfilment {
			job: id,
			operator: lineage_primitives::AccountId::from(operator.0),
			input_tokens: answer.prompt_tokens,
			output_tokens: answer.completion_tokens,
			response_hash: response_hash(&output),
			output,
		};
		let signature = self.key.sign(&fulfilment_payload(&self.genesis, &fulfilment)).0;
		let bytes = fulfilment.encode();
		self.journal.set_job(id, &JobEntry::Answered { fulfilment: bytes.clone(), signature })?;
		tracing::info!(
			job = id,
			prompt_tokens = answer.prompt_tokens,
			completion_tokens = answer.completion_tokens,
			"job answered and journaled; submitting"
		);
		Ok(Some((bytes, signature)))
	}

	/// Submits a journaled answer and marks the job done once the chain has it, or has refused
	/// it for good.
	async fn submit(
		&self,
		client: &LineageClient,
		id: JobId,
		fulfilment: Vec<u8>,
		signature: [u8; 64],
		report: &mut JobsReport,
	) -> Result<(), ChainError> {
		let f = Fulfilment::<lineage_primitives::AccountId, Vec<u8>>::decode(&mut &fulfilment[..])
			.map_err(|e| {
				ChainError::Corrupt(format!("job {id}: a corrupt journaled answer: {e}"))
			})?;
		let wire = lineage::runtime_types::lineage_primitives::jobs::Fulfilment {
			job: f.job,
			operator: AccountId32(f.operator.into()),
			input_tokens: f.input_tokens,
			output_tokens: f.output_tokens,
			response_hash: f.response_hash,
			output: lineage::runtime_types::bounded_collections::bounded_vec::BoundedVec(f.output),
		};
		let call = lineage::tx().jobs().fulfil(wire, signature);
		let done = |outcome: String| {
			self.journal.set_job(id, &JobEntry::Done { outcome }).map_err(ChainError::from)
		};
		match submit_and_finalize(client, &call, &self.key).await {
			Ok(finalized) => {
				let fee = finalized
					.events
					.find_first::<lineage::jobs::events::JobFulfilled>()
					.and_then(Result::ok)
					.map_or(0, |e| e.fee);
				done("fulfilled".into())?;
				tracing::info!(job = id, fee, "job fulfilled on chain");
				report.fulfilled.push(id);
				Ok(())
			},
			Err(ClientError::Dispatch(reason)) => {
				// Fulfilled already (by this answer before a crash, or another operator),
				// expired, or refused: the chain's word is final.
				done(format!("refused by the chain: {reason}"))?;
				tracing::warn!(job = id, %reason, "the chain refused the job's answer");
				report.given_up.push((id, reason));
				Ok(())
			},
			Err(e) => {
				self.queue.push(id);
				Err(e.into())
			},
		}
	}
}

/// The most output tokens a fee ceiling of `max_fee` pays for after `input` prompt tokens, at
/// `per_1k_input` / `per_1k_output` (the chain rounds the fee down, so this is exact).
pub fn affordable_output(
	max_fee: u128,
	input: u64,
	per_1k_input: u128,
	per_1k_output: u128,
) -> u64 {
	let budget = max_fee.saturating_mul(1_000).saturating_add(999);
	let Some(left) = budget.checked_sub(u128::from(input).saturating_mul(per_1k_input)) else {
		return 0;
	};
	if per_1k_output == 0 {
		return u64::MAX;
	}
	u64::try_from(left / per_1k_output).unwrap_or(u64::MAX)
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn truncate_utf8(mut text: String, max: usize) -> String {
	if text.len() > max {
		let mut end = max;
		while !text.is_char_boundary(end) {
			end -= 1;
		}
		text.truncate(end);
	}
	text
}

#[cfg(test)]
mod tests {
	use super::*;
	use lineage_primitives::usage::usage_fee;

	#[test]
	fn affordable_output_is_the_most_the_ceiling_pays_for() {
		let (p_in, p_out) = (5_000_000u128, 10_000_000u128);
		for (max_fee, input) in [(860_000_001u128, 38u64), (1_000, 10), (123_456_789, 7), (0, 1)] {
			let out = affordable_output(max_fee, input, p_in, p_out);
			if out > 0 {
				assert!(usage_fee(input, out, p_in, p_out).unwrap() <= max_fee);
			}
			assert!(usage_fee(input, out + 1, p_in, p_out).unwrap() > max_fee);
		}
		assert_eq!(affordable_output(10, 1, 0, 0), u64::MAX);
		assert_eq!(affordable_output(1, 1_000, 5_000, 1), 0);
	}

	#[test]
	fn truncation_keeps_whole_characters() {
		assert_eq!(truncate_utf8("héllo".into(), 2), "h");
		assert_eq!(truncate_utf8("héllo".into(), 3), "hé");
		assert_eq!(truncate_utf8("ok".into(), 10), "ok");
	}
}
