//! On-chain inference jobs: the oracle answers the completions contracts and wallets request on
//! chain (pallet-jobs), and submits each answer signed with its operator key.
//!
//! - **Which jobs**: the follow loop queues the id of every `Jobs::JobRequested` event in a
//!   finalized block ([`JobQueue::push`]); at start and after a reconnect, every pending job in
//!   storage is queued ([`queue_pending`]: jobs requested while the oracle was away). A job asking
//!   for another operator is skipped.
//! - **Concurrently, bounded**: [`JobRunner::run`] answers up to `max_concurrent` jobs at once
//!   ([`Slots`]), never two tasks for one job. Each answer takes an admission permit of the
//!   inference layer like an HTTP request, without waiting for one: when the server is at
//!   capacity the job is queued again for a later look, so jobs never hold paid HTTP traffic
//!   back (the service keeps `max_concurrent` at most half the admission permits).
//! - **The answer**: the prompt is the user's message to the adapter; the most tokens generated
//!   are what the job allows and what its fee ceiling pays for at the adapter's price (the
//!   higher of the price in force and a scheduled one). A job whose ceiling pays for no token is
//!   given up (it expires on chain and the requester is refunded).
//! - **Journaled**: the signed fulfilment is written to the journal before it is submitted, and
//!   marked done once the chain has it or has refused it for good. A journaled answer is only
//!   ever submitted again with the same bytes, never computed again; before resubmitting one
//!   found at start (or after failed tries), the job's state on chain is read: fulfilled with
//!   this answer, it is marked done. So a kill -9 neither loses a job nor answers it twice.
//! - **Retries** ([`submit_journaled`]): a transient failure (the node away, a 429, a timeout,
//!   the pool refusing the nonce or priority; [`classify_failure`]) is retried with a bounded
//!   exponential backoff with jitter; when the tries run out the answer stays journaled and the
//!   job is queued again. A permanent one (the pallet's dispatch error: `JobExpired`,
//!   `AlreadyFulfilled`, `WrongOperator`, `FeeAboveCeiling`, `BadSignature`, …) gives up that job
//!   with a log line and `lineage_jobs_total{outcome="given_up"}`; the others continue.
//! - **Nonces**: answers are submitted through the operator's [`Submitter`], shared with the
//!   proof loop, which serialises nonce assignment and lets several answers finalize at once.
//! - **Claimed first**: a job open to any operator is claimed on chain (`Jobs::claim`) before
//!   its answer is computed, so the answer cannot be copied from the pool by another operator;
//!   a job another operator holds a live claim on is looked at again later (the claim may lapse).

use std::{
	collections::BTreeSet,
	future::Future,
	sync::{Arc, Mutex},
	time::Duration,
};

use codec::{Decode, Encode};
use futures::future::BoxFuture;
use lineage_primitives::{
	jobs::{fulfilment_payload, response_hash, Fulfilment, JobId},
	usage::RecordMatch,
};
use prometheus::{IntCounter, IntGauge};
use subxt::utils::AccountId32;
use tokio::sync::{Notify, Semaphore};

use lineage_chain::{
	keys::account_of,
	lineage::{self, runtime_types::pallet_jobs::JobState},
	rpc_err, BlockClient, LineageClient,
};
use lineage_engine::{SamplingParams, SubmitError};

use super::{
	error::{ChainError, ClientError},
	link::ChainLink,
	registry::Registry,
	retry::{classify_failure, with_retries, Backoff, GaveUp},
	submit::Submitter,
};
use crate::{
	infer::{lineage::Lineage, Infer, InferError},
	journal::{JobEntry, Journal},
	metrics::ChainMetrics,
};

/// The ids of jobs to look at, in order.
#[derive(Debug, Default)]
pub struct JobQueue {
	ids: Mutex<BTreeSet<JobId>>,
	wake: Notify,
}

impl JobQueue {
	/// Queues `job` and wakes the runner.
	pub fn push(&self, job: JobId) {
		self.push_later(job);
		self.wake.notify_one();
	}

	/// Queues `job` for the runner's next regular look (a job that failed for a reason that
	/// may pass is not tried again at once).
	pub fn push_later(&self, job: JobId) {
		self.ids.lock().unwrap_or_else(|e| e.into_inner()).insert(job);
	}

	/// Takes every queued id.
	pub fn drain(&self) -> Vec<JobId> {
		std::mem::take(&mut *self.ids.lock().unwrap_or_else(|e| e.into_inner()))
			.into_iter()
			.collect()
	}

	/// Waits until a job is pushed or `at_most` has passed.
	async fn wait(&self, at_most: Duration) {
		let _ = tokio::time::timeout(at_most, self.wake.notified()).await;
	}
}

/// Queues every pending job in the state of block `at` (at start and after a reconnect, for
/// jobs requested while the oracle was away).
pub async fn queue_pending(at: &BlockClient, queue: &JobQueue) -> Result<usize, ChainError> {
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

/// How jobs are answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobsConfig {
	/// Jobs answered at once at most (inference and submission together; at least 1).
	pub max_concurrent: usize,
	/// How a submission that failed transiently is tried again.
	pub backoff: Backoff,
	/// How often queued jobs are looked at when no new one wakes the runner (a job queued again
	/// after a transient failure waits about this long).
	pub poll: Duration,
}

impl Default for JobsConfig {
	/// 4 jobs at once, [`Backoff::default`], a look every 2 s.
	fn default() -> Self {
		JobsConfig { max_concurrent: 4, backoff: Backoff::default(), poll: Duration::from_secs(2) }
	}
}

/// A signed answer: the SCALE bytes of the fulfilment and the operator key's signature, as
/// journaled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedAnswer {
	/// The SCALE-encoded [`Fulfilment`].
	pub fulfilment: Vec<u8>,
	/// The operator key's sr25519 signature over its [`fulfilment_payload`].
	pub signature: [u8; 64],
}

impl SignedAnswer {
	/// The fulfilment, decoded (`Corrupt` when the journal's bytes do not decode).
	pub fn decode(
		&self,
		job: JobId,
	) -> Result<Fulfilment<lineage_primitives::AccountId, Vec<u8>>, ChainError> {
		Fulfilment::decode(&mut &self.fulfilment[..]).map_err(|e| {
			ChainError::Corrupt(format!(
				"job {job}: the journaled answer does not decode ({e}): the journal file is \
				 damaged; the job will expire on chain and refund its requester"
			))
		})
	}
}

/// What became of one look at a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobOutcome {
	/// Fulfilled on chain with this oracle's answer (now, or by an earlier submission).
	Fulfilled {
		/// The fee the chain charged.
		fee: u128,
	},
	/// Nothing to do: not pending, another operator's, or done already.
	Skipped,
	/// Given up for good (the chain refused the answer, or it cannot be answered): it expires
	/// on chain and refunds the requester.
	GivenUp(String),
	/// Failed for a reason that may pass: queued again (a journaled answer is kept).
	Later(String),
}

impl JobOutcome {
	/// Its `outcome` label in `lineage_jobs_total`.
	pub fn label(&self) -> &'static str {
		match self {
			JobOutcome::Fulfilled { .. } => "fulfilled",
			JobOutcome::Skipped => "skipped",
			JobOutcome::GivenUp(_) => "given_up",
			JobOutcome::Later(_) => "later",
		}
	}
}

/// What the chain holds for a job, as far as a journaled answer goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnChain {
	/// Waiting for an answer.
	Pending,
	/// Fulfilled by this operator with this answer (an earlier submission), for `fee`.
	Ours {
		/// The fee charged.
		fee: u128,
	},
	/// Fulfilled by another operator, or with another answer.
	Other,
	/// Not in storage: expired, or fulfilled and its output taken.
	Gone,
}

/// What [`submit_journaled`] needs of the chain: the real one ([`ChainJobs`]) or a fake in tests.
pub trait JobChain: Sync {
	/// Submits `answer` and waits for finality: the fee charged.
	fn fulfil<'a>(&'a self, answer: &'a SignedAnswer) -> BoxFuture<'a, Result<u128, ClientError>>;
	/// Job `job`'s state, compared with an answer whose response hash is `response_hash`.
	fn state(
		&self,
		job: JobId,
		response_hash: [u8; 32],
	) -> BoxFuture<'_, Result<OnChain, ClientError>>;
}

/// The chain through a connection and the operator's [`Submitter`].
pub struct ChainJobs<'a> {
	/// The connection.
	pub client: &'a LineageClient,
	/// Submits the operator's transactions.
	pub submitter: &'a Submitter,
}

impl JobChain for ChainJobs<'_> {
	fn fulfil<'a>(&'a self, answer: &'a SignedAnswer) -> BoxFuture<'a, Result<u128, ClientError>> {
		Box::pin(async move {
			let f = Fulfilment::<lineage_primitives::AccountId, Vec<u8>>::decode(
				&mut &answer.fulfilment[..],
			)
			.map_err(|e| ClientError::Setup(format!("a corrupt journaled answer: {e}")))?;
			let wire = lineage::runtime_types::lineage_primitives::jobs::Fulfilment {
				job: f.job,
				operator: AccountId32(f.operator.into()),
				input_tokens: f.input_tokens,
				output_tokens: f.output_tokens,
				response_hash: f.response_hash,
				output: lineage::runtime_types::bounded_collections::bounded_vec::BoundedVec(
					f.output,
				),
				matched: f
					.matched
					.into_iter()
					.map(|m| lineage::runtime_types::lineage_primitives::usage::RecordMatch {
						datanet: m.datanet,
						version: m.version,
						contributor: AccountId32(m.contributor.into()),
						share: lineage::runtime_types::sp_arithmetic::per_things::Perbill(
							m.share.deconstruct(),
						),
					})
					.collect(),
			};
			let call = lineage::tx().jobs().fulfil(wire, answer.signature);
			let finalized = self.submitter.submit(self.client, &call).await?;
			Ok(finalized
				.events
				.find_first::<lineage::jobs::events::JobFulfilled>()
				.and_then(Result::ok)
				.map_or(0, |e| e.fee))
		})
	}

	fn state(
		&self,
		job: JobId,
		response_hash: [u8; 32],
	) -> BoxFuture<'_, Result<OnChain, ClientError>> {
		Box::pin(async move {
			let at = self.client.at_current_block().await.map_err(rpc_err)?;
			let stored = at
				.storage()
				.try_fetch(lineage::storage().jobs().jobs(), (job,))
				.await
				.map_err(rpc_err)?
				.map(|v| v.decode())
				.transpose()
				.map_err(rpc_err)?;
			let operator = account_of(self.submitter.key());
			Ok(match stored.map(|j| j.state) {
				None => OnChain::Gone,
				Some(JobState::Pending) => OnChain::Pending,
				Some(JobState::Fulfilled { operator: by, response_hash: hash, fee, .. })
					if by == operator && hash.0 == response_hash =>
				{
					OnChain::Ours { fee }
				},
				Some(_) => OnChain::Other,
			})
		})
	}
}

/// The reason a chain failure gives, for logs and the journal (the pallet's error for a
/// dispatch error).
fn reason(e: &ClientError) -> String {
	match e {
		ClientError::Dispatch(m) => m.clone(),
		other => other.to_string(),
	}
}

/// Submits job `id`'s journaled `answer` through `chain`, retrying transient failures with
/// `backoff` (counting each retry in `retries`), and records the outcome in the journal:
/// fulfilled (or found fulfilled with this answer) → done; refused for good → done, given up;
/// tries exhausted → the answer stays journaled, [`JobOutcome::Later`]. With `resumed` (an
/// answer journaled earlier: before a restart, or before failed tries) the job's state on chain
/// is read first, and a job fulfilled already, by this answer or another, is not sent again.
pub async fn submit_journaled(
	journal: &Journal,
	id: JobId,
	answer: &SignedAnswer,
	chain: &dyn JobChain,
	backoff: &Backoff,
	retries: &IntCounter,
	resumed: bool,
) -> Result<JobOutcome, ChainError> {
	let response_hash = answer.decode(id)?.response_hash.0;
	let done = |outcome: &str| -> Result<(), ChainError> {
		journal.set_job(id, &JobEntry::Done { outcome: outcome.into() })?;
		Ok(())
	};
	if resumed {
		match chain.state(id, response_hash).await {
			Ok(OnChain::Ours { fee }) => {
				done("fulfilled")?;
				tracing::info!(job = id, fee, "the journaled answer is on chain already: done");
				return Ok(JobOutcome::Fulfilled { fee });
			},
			Ok(state @ (OnChain::Other | OnChain::Gone)) => {
				let why = if state == OnChain::Other {
					"fulfilled on chain with another answer (another operator)"
				} else {
					"no longer on chain (expired, or fulfilled and its output taken)"
				};
				done(why)?;
				tracing::warn!(job = id, reason = why, "journaled answer not sent: job given up");
				return Ok(JobOutcome::GivenUp(why.into()));
			},
			// Pending, or the state could not be read: submit (the pallet refuses a second
			// fulfilment anyway).
			Ok(OnChain::Pending) | Err(_) => {},
		}
	}
	let result = with_retries(
		backoff,
		classify_failure,
		|| chain.fulfil(answer),
		|retry, e, wait| {
			retries.inc();
			tracing::warn!(
				job = id,
				retry = retry + 1,
				wait_ms = wait.as_millis() as u64,
				error = %e,
				"submitting the job's answer failed for a reason that may pass; trying again"
			);
		},
	)
	.await;
	match result {
		Ok(fee) => {
			done("fulfilled")?;
			tracing::info!(job = id, fee, "job fulfilled on chain");
			Ok(JobOutcome::Fulfilled { fee })
		},
		Err(GaveUp::Permanent(e)) => {
			let reason = reason(&e);
			if reason.contains("AlreadyFulfilled") {
				if let Ok(OnChain::Ours { fee }) = chain.state(id, response_hash).await {
					done("fulfilled")?;
					tracing::info!(
						job = id,
						fee,
						"job fulfilled on chain by an earlier submission"
					);
					return Ok(JobOutcome::Fulfilled { fee });
				}
			}
			done(&format!("refused by the chain: {reason}"))?;
			tracing::warn!(job = id, %reason, "the chain refused the job's answer for good: job given up");
			Ok(JobOutcome::GivenUp(reason))
		},
		Err(GaveUp::Exhausted(e)) => {
			let reason = reason(&e);
			tracing::warn!(
				job = id,
				tries = backoff.attempts,
				%reason,
				"the job's answer could not be submitted yet: kept in the journal, sent again later"
			);
			Ok(JobOutcome::Later(reason))
		},
	}
}

/// At most `limit` jobs at once, never two for one job: each runs on a task of its own.
pub struct Slots {
	free: Arc<Semaphore>,
	running: Arc<Mutex<BTreeSet<JobId>>>,
}

/// Forgets a running job when its task ends (or panics).
struct Running {
	id: JobId,
	running: Arc<Mutex<BTreeSet<JobId>>>,
}

impl Drop for Running {
	fn drop(&mut self) {
		self.running.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.id);
	}
}

impl Slots {
	/// Slots for `limit` jobs at once (at least 1).
	pub fn new(limit: usize) -> Self {
		Slots { free: Arc::new(Semaphore::new(limit.max(1))), running: Arc::default() }
	}

	/// How many jobs run now (or wait for a slot).
	pub fn running(&self) -> usize {
		self.running.lock().unwrap_or_else(|e| e.into_inner()).len()
	}

	/// Waits for a free slot and runs `work` for job `id` on a task of its own, then `then` with
	/// its output once the slot and the job are released (so `then` may queue the job again).
	/// Returns `false`, running nothing, when job `id` runs already.
	pub async fn spawn<W, T, F>(&self, id: JobId, work: W, then: F) -> bool
	where
		W: Future<Output = T> + Send + 'static,
		T: Send + 'static,
		F: FnOnce(T) + Send + 'static,
	{
		if !self.running.lock().unwrap_or_else(|e| e.into_inner()).insert(id) {
			return false;
		}
		let running = Running { id, running: self.running.clone() };
		let Ok(permit) = self.free.clone().acquire_owned().await else {
			return false;
		};
		tokio::spawn(async move {
			let out = work.await;
			drop(permit);
			drop(running);
			then(out);
		});
		true
	}
}

/// Decrements a gauge when dropped.
struct InFlight(IntGauge);

impl InFlight {
	fn new(gauge: &IntGauge) -> Self {
		gauge.inc();
		InFlight(gauge.clone())
	}
}

impl Drop for InFlight {
	fn drop(&mut self) {
		self.0.dec();
	}
}

/// What answering a job came to, before any submission.
enum Answer {
	Signed(SignedAnswer),
	Skip,
	GiveUp(String),
	Later(String),
}

/// Everything answering jobs needs.
pub struct JobRunner {
	/// The ids to look at.
	pub queue: Arc<JobQueue>,
	/// Signs fulfilments' transactions (its key also signs the fulfilments).
	pub submitter: Arc<Submitter>,
	/// The journal.
	pub journal: Arc<Journal>,
	/// The adapters on chain.
	pub registry: Arc<Registry>,
	/// The inference layer (its engine answers jobs).
	pub infer: Infer,
	/// The chain's genesis hash (in every signed payload).
	pub genesis: [u8; 32],
	/// How many at once, and how they are retried.
	pub config: JobsConfig,
	/// The chain side's metrics (`lineage_jobs_*`).
	pub metrics: Arc<ChainMetrics>,
}

impl JobRunner {
	/// Answers queued jobs while connected, up to `config.max_concurrent` at once, for as long
	/// as the process runs. A job that fails for a reason that may pass is queued again.
	pub async fn run(self: Arc<Self>, link: Arc<ChainLink>) {
		let slots = Slots::new(self.config.max_concurrent);
		loop {
			self.queue.wait(self.config.poll).await;
			let Some(client) = link.client() else { continue };
			for id in self.queue.drain() {
				let runner = self.clone();
				let client = client.clone();
				let queue = self.queue.clone();
				let metrics = self.metrics.clone();
				let work = async move {
					let _in_flight = InFlight::new(&runner.metrics.jobs_in_flight);
					runner.one(&client, id).await
				};
				let then = move |outcome: JobOutcome| {
					metrics.jobs.with_label_values(&[outcome.label()]).inc();
					if let JobOutcome::Later(_) = outcome {
						queue.push_later(id);
					}
				};
				// A job running already is looked at by its own task.
				slots.spawn(id, work, then).await;
			}
		}
	}

	/// Looks at job `id` once: answers, resubmits or skips it.
	pub async fn one(&self, client: &LineageClient, id: JobId) -> JobOutcome {
		match self.try_one(client, id).await {
			Ok(outcome) => outcome,
			Err(e @ ChainError::Corrupt(_)) => {
				tracing::error!(job = id, error = %e, "job given up");
				let reason = e.to_string();
				let _ = self.journal.set_job(id, &JobEntry::Done { outcome: reason.clone() });
				JobOutcome::GivenUp(reason)
			},
			Err(e) => {
				tracing::warn!(job = id, error = %e, "looking at the job failed; trying again later");
				JobOutcome::Later(e.to_string())
			},
		}
	}

	async fn try_one(&self, client: &LineageClient, id: JobId) -> Result<JobOutcome, ChainError> {
		let (answer, resumed) = match self.journal.job(id)? {
			Some(JobEntry::Done { .. }) => return Ok(JobOutcome::Skipped),
			Some(JobEntry::Answered { fulfilment, signature }) => {
				tracing::info!(
					job = id,
					"answer journaled before a restart (or failed tries): submitting it again"
				);
				(SignedAnswer { fulfilment, signature }, true)
			},
			None => match self.answer(client, id).await? {
				Answer::Signed(answer) => (answer, false),
				Answer::Skip => return Ok(JobOutcome::Skipped),
				Answer::GiveUp(reason) => {
					tracing::warn!(job = id, %reason, "job given up: it will expire and refund the requester");
					self.journal.set_job(id, &JobEntry::Done { outcome: reason.clone() })?;
					return Ok(JobOutcome::GivenUp(reason));
				},
				Answer::Later(reason) => {
					tracing::info!(job = id, %reason, "job not answered now; trying again later");
					return Ok(JobOutcome::Later(reason));
				},
			},
		};
		let chain = ChainJobs { client, submitter: &self.submitter };
		submit_journaled(
			&self.journal,
			id,
			&answer,
			&chain,
			&self.config.backoff,
			&self.metrics.job_retries,
			resumed,
		)
		.await
	}

	/// Reads job `id` and answers it (the answer journaled before this returns).
	async fn answer(&self, client: &LineageClient, id: JobId) -> Result<Answer, ChainError> {
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
			return Ok(Answer::Skip);
		};
		let key = self.submitter.key();
		let operator = account_of(key);
		if !matches!(job.state, JobState::Pending) || job.operator.is_some_and(|o| o != operator) {
			return Ok(Answer::Skip);
		}
		// An open job is answered only under this operator's live claim: claim it before
		// computing, so the answer cannot be copied from the pool by another operator.
		if job.operator.is_none() {
			let now = at.block_number();
			match &job.claim {
				Some((who, until)) if u64::from(*until) > now && *who != operator => {
					return Ok(Answer::Later(
						"another operator holds a live claim on the job".into(),
					));
				},
				Some((who, until)) if u64::from(*until) > now && *who == operator => {},
				_ => {
					let call = lineage::tx().jobs().claim(id);
					match self.submitter.submit(client, &call).await {
						Ok(_) => tracing::info!(job = id, "job claimed"),
						Err(ClientError::Dispatch(reason)) => {
							tracing::info!(job = id, %reason, "the job could not be claimed");
							return Ok(Answer::Skip);
						},
						Err(e) => {
							return Ok(Answer::Later(format!("claiming the job failed: {e}")))
						},
					}
				},
			}
		}
		let Some((hash, terms)) = self.registry.entry(job.adapter) else {
			return Ok(Answer::GiveUp(format!("adapter {} is not in the registry", job.adapter)));
		};
		let prompt = match String::from_utf8(job.prompt.0) {
			Ok(p) => p,
			Err(_) => return Ok(Answer::GiveUp("the prompt is not UTF-8".into())),
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
			// The server is busy (paid requests first) or the engine's queue is full: later.
			Err(
				e @ (InferError::Overloaded(_)
				| InferError::Unavailable(_)
				| InferError::Submit(SubmitError::QueueFull)),
			) => return Ok(Answer::Later(format!("inference: {e}"))),
			Err(e) => return Ok(Answer::GiveUp(format!("inference refused it: {e}"))),
		};
		let max_bytes = at
			.constants()
			.entry(lineage::constants().jobs().max_output_length())
			.map_err(rpc_err)? as usize;
		let max_matched = at
			.constants()
			.entry(lineage::constants().jobs().max_matched_per_job())
			.map_err(rpc_err)? as usize;
		let matched = job_matches(answer.lineage.as_ref(), max_matched);
		let output = truncate_utf8(answer.text, max_bytes).into_bytes();
		let fulfilment = Fulfilment {
			job: id,
			operator: lineage_primitives::AccountId::from(operator.0),
			input_tokens: answer.prompt_tokens,
			output_tokens: answer.completion_tokens,
			response_hash: response_hash(&output),
			output,
			matched,
		};
		let signature = key.sign(&fulfilment_payload(&self.genesis, &fulfilment)).0;
		let bytes = fulfilment.encode();
		self.journal.set_job(id, &JobEntry::Answered { fulfilment: bytes.clone(), signature })?;
		tracing::info!(
			job = id,
			prompt_tokens = answer.prompt_tokens,
			completion_tokens = answer.completion_tokens,
			"job answered and journaled; submitting"
		);
		Ok(Answer::Signed(SignedAnswer { fulfilment: bytes, signature }))
	}
}

/// What a job's answer credits, as its fulfilment carries it: the answer's credited parts
/// ([`Lineage::record_matches`]), the `max` largest kept (ties to the lower key), ascending by
/// (datanet, version, contributor) as the jobs pallet checks. Empty for an answer not attributed.
pub fn job_matches(
	lineage: Option<&Lineage>,
	max: usize,
) -> Vec<RecordMatch<lineage_primitives::AccountId>> {
	let mut matches = lineage.map(|l| l.record_matches()).unwrap_or_default();
	matches.sort_by(|a, b| b.share.cmp(&a.share).then_with(|| a.key().cmp(&b.key())));
	matches.truncate(max);
	matches.sort_by(|a, b| a.key().cmp(&b.key()));
	matches
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
	use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

	use super::*;
	use lineage_primitives::usage::usage_fee;

	/// A chain whose `fulfil` fails with `error` `fails` times, then charges 42; its job is in
	/// `state`.
	struct FakeChain {
		fails: u32,
		error: fn() -> ClientError,
		state: OnChain,
		calls: AtomicU32,
	}

	impl FakeChain {
		fn new(fails: u32, error: fn() -> ClientError, state: OnChain) -> Self {
			FakeChain { fails, error, state, calls: AtomicU32::new(0) }
		}

		fn calls(&self) -> u32 {
			self.calls.load(Ordering::SeqCst)
		}
	}

	impl JobChain for FakeChain {
		fn fulfil<'a>(
			&'a self,
			_answer: &'a SignedAnswer,
		) -> BoxFuture<'a, Result<u128, ClientError>> {
			let n = self.calls.fetch_add(1, Ordering::SeqCst);
			let result = if n < self.fails { Err((self.error)()) } else { Ok(42) };
			Box::pin(async move { result })
		}

		fn state(&self, _: JobId, _: [u8; 32]) -> BoxFuture<'_, Result<OnChain, ClientError>> {
			let state = self.state;
			Box::pin(async move { Ok(state) })
		}
	}

	fn transient() -> ClientError {
		ClientError::Extrinsic("1014: Priority is too low: (1 vs 1)".to_string().into())
	}

	fn expired() -> ClientError {
		ClientError::Dispatch("Module error: Jobs::JobExpired".into())
	}

	fn already() -> ClientError {
		ClientError::Dispatch("Module error: Jobs::AlreadyFulfilled".into())
	}

	#[test]
	fn a_jobs_matches_keep_the_largest_parts_in_key_order() {
		use crate::infer::lineage::Traced;
		use lineage_trace::{index::RecordMeta, RecordCredit};
		let record = |who: u8, score| RecordCredit {
			record: RecordMeta {
				datanet: 1,
				version: 1,
				index: 0,
				contribution: u32::from(who),
				content_hash: [who; 32],
				contributor: [who; 32],
			},
			score,
			spans: 1,
		};
		let lineage = Lineage::Attributed(Traced {
			versions: vec![],
			completion_tokens: 10,
			credited_tokens: 6,
			echoed_tokens: 0,
			spans: vec![],
			prompt_spans: vec![],
			records: vec![record(3, 1.0), record(1, 3.0), record(2, 2.0)],
			contributors: vec![],
			micros: 1,
		});
		let kept: Vec<([u8; 32], u32)> = job_matches(Some(&lineage), 2)
			.into_iter()
			.map(|m| (m.contributor.into(), m.share.deconstruct()))
			.collect();
		assert_eq!(kept, vec![([1; 32], 300_000_000), ([2; 32], 200_000_000)]);
		assert!(job_matches(Some(&Lineage::Indexing), 2).is_empty());
		assert!(job_matches(None, 2).is_empty());
	}

	/// Job 7's answer, journaled as `Answered` in a fresh journal.
	fn journaled(dir: &lineage_testkit::TempDir) -> (Journal, SignedAnswer) {
		let journal = Journal::open(&dir.path().join("journal.redb")).unwrap();
		let output = b"four".to_vec();
		let fulfilment = Fulfilment {
			job: 7,
			operator: lineage_primitives::AccountId::new([1; 32]),
			input_tokens: 3,
			output_tokens: 1,
			response_hash: response_hash(&output),
			output,
			matched: vec![],
		};
		let answer = SignedAnswer { fulfilment: fulfilment.encode(), signature: [9; 64] };
		journal
			.set_job(
				7,
				&JobEntry::Answered {
					fulfilment: answer.fulfilment.clone(),
					signature: answer.signature,
				},
			)
			.unwrap();
		(journal, answer)
	}

	fn quick() -> Backoff {
		Backoff { first: Duration::from_millis(1), max: Duration::from_millis(2), attempts: 4 }
	}

	async fn submit(
		journal: &Journal,
		answer: &SignedAnswer,
		chain: &FakeChain,
		resumed: bool,
	) -> (JobOutcome, u64) {
		let retries = IntCounter::new("retries", "retries").unwrap();
		let outcome =
			submit_journaled(journal, 7, answer, chain, &quick(), &retries, resumed).await.unwrap();
		(outcome, retries.get())
	}

	fn done(journal: &Journal) -> Option<String> {
		match journal.job(7).unwrap() {
			Some(JobEntry::Done { outcome }) => Some(outcome),
			_ => None,
		}
	}

	#[tokio::test]
	async fn a_transient_failure_is_retried_with_the_same_journaled_answer() {
		let dir = lineage_testkit::temp_dir("jobs-transient");
		let (journal, answer) = journaled(&dir);
		let chain = FakeChain::new(2, transient, OnChain::Pending);
		let (outcome, retries) = submit(&journal, &answer, &chain, false).await;
		assert_eq!(outcome, JobOutcome::Fulfilled { fee: 42 });
		assert_eq!((chain.calls(), retries), (3, 2));
		assert_eq!(done(&journal).as_deref(), Some("fulfilled"));
	}

	#[tokio::test]
	async fn a_permanent_failure_gives_the_job_up_at_once() {
		let dir = lineage_testkit::temp_dir("jobs-permanent");
		let (journal, answer) = journaled(&dir);
		let chain = FakeChain::new(u32::MAX, expired, OnChain::Pending);
		let (outcome, retries) = submit(&journal, &answer, &chain, false).await;
		assert!(matches!(&outcome, JobOutcome::GivenUp(r) if r.contains("JobExpired")));
		assert_eq!((chain.calls(), retries), (1, 0));
		assert!(done(&journal).unwrap().contains("refused by the chain"));
	}

	#[tokio::test]
	async fn tries_run_out_and_the_answer_stays_journaled() {
		let dir = lineage_testkit::temp_dir("jobs-exhausted");
		let (journal, answer) = journaled(&dir);
		let chain = FakeChain::new(u32::MAX, transient, OnChain::Pending);
		let (outcome, retries) = submit(&journal, &answer, &chain, false).await;
		assert!(matches!(outcome, JobOutcome::Later(_)));
		assert_eq!((chain.calls(), retries), (4, 3), "bounded by the backoff's attempts");
		assert_eq!(
			journal.job(7).unwrap(),
			Some(JobEntry::Answered { fulfilment: answer.fulfilment.clone(), signature: [9; 64] }),
			"the signed answer is kept, to be sent again with the same bytes"
		);
	}

	#[tokio::test]
	async fn an_answer_already_on_chain_is_not_sent_again() {
		let dir = lineage_testkit::temp_dir("jobs-resumed");
		let (journal, answer) = journaled(&dir);
		// After a restart: the chain has this answer already.
		let chain = FakeChain::new(0, transient, OnChain::Ours { fee: 5 });
		let (outcome, _) = submit(&journal, &answer, &chain, true).await;
		assert_eq!(outcome, JobOutcome::Fulfilled { fee: 5 });
		assert_eq!(chain.calls(), 0);
		assert_eq!(done(&journal).as_deref(), Some("fulfilled"));
		// A lost watch: the answer was sent twice, the second is refused as already fulfilled.
		let dir = lineage_testkit::temp_dir("jobs-twice");
		let (journal, answer) = journaled(&dir);
		let chain = FakeChain::new(u32::MAX, already, OnChain::Ours { fee: 5 });
		let (outcome, _) = submit(&journal, &answer, &chain, false).await;
		assert_eq!(outcome, JobOutcome::Fulfilled { fee: 5 });
		// Fulfilled by another operator: given up without submitting.
		let dir = lineage_testkit::temp_dir("jobs-other");
		let (journal, answer) = journaled(&dir);
		let chain = FakeChain::new(0, transient, OnChain::Other);
		let (outcome, _) = submit(&journal, &answer, &chain, true).await;
		assert!(matches!(outcome, JobOutcome::GivenUp(_)));
		assert_eq!(chain.calls(), 0);
	}

	#[tokio::test]
	async fn slots_bound_the_jobs_in_flight_and_never_run_one_twice() {
		let slots = Slots::new(3);
		let now = Arc::new(AtomicUsize::new(0));
		let most = Arc::new(AtomicUsize::new(0));
		let finished = Arc::new(AtomicUsize::new(0));
		for id in 0..12 {
			let (now, most, finished) = (now.clone(), most.clone(), finished.clone());
			let work = async move {
				let n = now.fetch_add(1, Ordering::SeqCst) + 1;
				most.fetch_max(n, Ordering::SeqCst);
				tokio::time::sleep(Duration::from_millis(20)).await;
				now.fetch_sub(1, Ordering::SeqCst);
			};
			assert!(
				slots
					.spawn(id, work, move |()| {
						finished.fetch_add(1, Ordering::SeqCst);
					})
					.await
			);
			assert!(slots.running() <= 3);
		}
		// Job 11 is running (or waiting for its slot): a second look at it runs nothing.
		assert!(!slots.spawn(11, async {}, |()| panic!("ran twice")).await);
		while finished.load(Ordering::SeqCst) < 12 {
			tokio::time::sleep(Duration::from_millis(5)).await;
		}
		assert_eq!(most.load(Ordering::SeqCst), 3, "never more than 3 at once, and 3 in parallel");
		assert_eq!(slots.running(), 0);
	}

	#[tokio::test]
	async fn a_job_queued_again_from_its_own_task_is_kept() {
		// `then` runs after the job is released: queueing it again there is not lost.
		let slots = Slots::new(1);
		let queue = Arc::new(JobQueue::default());
		let q = queue.clone();
		slots.spawn(5, async {}, move |()| q.push_later(5)).await;
		tokio::time::sleep(Duration::from_millis(20)).await;
		assert_eq!(queue.drain(), vec![5]);
		assert!(slots.spawn(5, async {}, |()| {}).await);
	}

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
