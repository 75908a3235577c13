//! The oracle joined to the chain: one connection shared by everything ([`ChainLink`]), the
//! registry sync that follows finalized blocks, and the proof loop, each reconnecting after the
//! node goes away.
//!
//! [`ChainService::connect`] runs before the HTTP server starts: it waits for the node, checks
//! that the operator is registered with this key, loads the registry and builds the
//! [`ChainGate`]; [`ChainService::spawn`] then starts the background tasks over the server's
//! state: the follow loop (registry updates, job ids; a revoked adapter is unloaded from its
//! cache), the proof loop, and the job runner. The proof loop and the job runner submit through
//! one [`Submitter`], which keeps the operator account's nonces in order.

use std::{sync::Arc, time::Duration};

use subxt::utils::AccountId32;
use subxt_signer::sr25519::Keypair;

use lineage_adapters::AdapterStore;
use lineage_chain::{
	connect,
	keys::account_of,
	lineage::{self, runtime_types::pallet_usage::types::OperatorStatus},
	operator_info, rpc_err,
	time::unix_time_ms,
	BlockClient, LineageClient,
};

use super::{
	error::{ChainError, ClientError},
	gate::ChainGate,
	jobs::{queue_pending, JobQueue, JobRunner, JobsConfig},
	link::ChainLink,
	proofs::{proof_round, RoundReport},
	registry::{
		adapters_named, apply_changes, load_adapters, load_adapters_at, plan, Registry, StorageAt,
		SyncStep,
	},
	submit::Submitter,
};
use crate::{
	infer::Infer,
	journal::{BatchLimits, Journal},
	metrics::ChainMetrics,
};

/// How the oracle works with the chain.
#[derive(Clone, Debug)]
pub struct ChainConfig {
	/// The node's RPC URL (`ws://127.0.0.1:9944`).
	pub url: String,
	/// How often a batch is cut from the journal and settlement is tried.
	pub batch_interval: Duration,
	/// The most usage records one batch aggregates (its entries and adapters are bounded by
	/// the runtime's `MaxEntriesPerBatch` and `MaxAdaptersPerBatch`, read at connect).
	pub max_records_per_batch: u32,
	/// How far a payer's signed timestamp may be from the oracle's clock.
	pub max_skew_ms: u64,
	/// Serve the base model alone to signed payers, free ([`ChainGate::with_free_base`]).
	pub free_base: bool,
	/// How on-chain jobs are answered (how many at once: at most half the inference layer's
	/// admission permits, so paid HTTP requests keep the rest).
	pub jobs: JobsConfig,
	/// How long a transaction the pool took may take to be finalized before it counts as lost
	/// (and is sent again, if it was a job's answer).
	pub finality_timeout: Duration,
}

impl ChainConfig {
	/// Defaults for `url`: a batch every 2 s of at most 100,000 records, 5 minutes of clock
	/// skew, [`JobsConfig::default`] (4 jobs at once), 120 s to finality.
	pub fn new(url: impl Into<String>) -> Self {
		ChainConfig {
			url: url.into(),
			batch_interval: Duration::from_secs(2),
			max_records_per_batch: 100_000,
			max_skew_ms: 300_000,
			free_base: false,
			jobs: JobsConfig::default(),
			finality_timeout: Duration::from_secs(120),
		}
	}
}

/// The oracle's chain side, connected and checked.
pub struct ChainService {
	config: ChainConfig,
	key: Keypair,
	link: Arc<ChainLink>,
	registry: Arc<Registry>,
	journal: Arc<Journal>,
	gate: Arc<ChainGate>,
	genesis: [u8; 32],
	/// The batch limits: the runtime's, and the configured records bound.
	limits: BatchLimits,
	/// On-chain jobs to look at.
	jobs: Arc<JobQueue>,
}

/// Connects to `url`, retrying every second until the node answers (logging each failure).
async fn connect_retrying(url: &str) -> LineageClient {
	let mut delay = Duration::from_millis(500);
	loop {
		match connect(url).await {
			Ok(client) => return client,
			Err(e) => tracing::warn!(error = %e, "waiting for the node"),
		}
		tokio::time::sleep(delay).await;
		delay = (delay * 2).min(Duration::from_secs(5));
	}
}

impl ChainService {
	/// Waits for the node, checks the operator's registration, loads the registry and the
	/// journal's outstanding usage.
	pub async fn connect(
		config: ChainConfig,
		key: Keypair,
		journal: Arc<Journal>,
		store: Arc<AdapterStore>,
	) -> Result<ChainService, ChainError> {
		let client = connect_retrying(&config.url).await;
		let operator = account_of(&key);
		// An operator not registered yet is waited for (scripts/dev registers it once the
		// oracle runs); every other mismatch is an error.
		let (info, at) = loop {
			let at = client.at_current_block().await.map_err(rpc_err)?;
			match operator_info(&at, operator).await? {
				Some(info) => break (info, at),
				None => {
					tracing::warn!(
						%operator,
						"not a registered operator yet: run `lineage-oracle operator register` \
						 with this key; waiting"
					);
					tokio::time::sleep(Duration::from_secs(2)).await;
				},
			}
		};
		if info.signing_key != key.public_key().0 {
			return Err(ChainError::Setup(format!(
				"operator {operator} is registered with another signing key (0x{}): rotate it \
				 with Usage::rotate_key or use that key",
				hex::encode(info.signing_key)
			)));
		}
		if !matches!(info.status, OperatorStatus::Active) {
			return Err(ChainError::Setup(format!(
				"operator {operator} is leaving: it cannot be charged for new usage"
			)));
		}
		let constant = |c| at.constants().entry(c).map_err(rpc_err);
		let limits = BatchLimits {
			max_entries: constant(lineage::constants().usage().max_entries_per_batch())?,
			max_adapters: constant(lineage::constants().usage().max_adapters_per_batch())?,
			max_payers: constant(lineage::constants().usage().max_payers_per_batch())?,
			max_records: config.max_records_per_batch,
			max_matched_per_adapter: constant(
				lineage::constants().usage().max_matched_per_adapter(),
			)?,
		};
		let registry = Arc::new(Registry::new());
		let (adapters, block) = load_adapters(&client).await?;
		registry.replace(adapters, block);
		let jobs = Arc::new(JobQueue::default());
		let now = client.at_current_block().await.map_err(rpc_err)?;
		let queued = queue_pending(&now, &jobs).await?;
		let link = Arc::new(ChainLink::default());
		let genesis = client.genesis_hash().0;
		link.set(Some(client));
		let gate = Arc::new(
			ChainGate::new(registry.clone(), link.clone(), store, operator, journal.clone())
				.with_free_base(config.free_base),
		);
		gate.refresh_outstanding()?;
		tracing::info!(
			%operator,
			adapters = registry.len(),
			block,
			pending_jobs = queued,
			"joined the chain as operator"
		);
		Ok(ChainService { config, key, link, registry, journal, gate, genesis, limits, jobs })
	}

	/// The gate requests pass through.
	pub fn gate(&self) -> &Arc<ChainGate> {
		&self.gate
	}

	/// The registry.
	pub fn registry(&self) -> &Arc<Registry> {
		&self.registry
	}

	/// The connection to the node, replaced when the service reconnects.
	pub fn link(&self) -> &Arc<ChainLink> {
		&self.link
	}

	/// The operator's account.
	pub fn operator(&self) -> AccountId32 {
		account_of(&self.key)
	}

	/// The chain's genesis hash (inside every payer's signed request).
	pub fn genesis(&self) -> [u8; 32] {
		self.genesis
	}

	/// How far a payer's signed timestamp may be from the oracle's clock.
	pub fn max_skew_ms(&self) -> u64 {
		self.config.max_skew_ms
	}

	/// Starts the registry sync, the proof loop and the job runner over the inference layer
	/// `infer`, registering their metrics in its registry.
	pub fn spawn(self, infer: Infer) -> Result<(), ChainError> {
		let ChainService { config, key, link, registry, journal, gate, limits, jobs, genesis } =
			self;
		let metrics = Arc::new(
			ChainMetrics::new(infer.metrics().registry())
				.map_err(|e| ChainError::Setup(format!("registering chain metrics: {e}")))?,
		);
		let mut jobs_config = config.jobs;
		let most = (infer.limits().max_concurrent / 2).max(1);
		if jobs_config.max_concurrent > most {
			tracing::warn!(
				asked = jobs_config.max_concurrent,
				most,
				"at most half the admission permits (--max-concurrent) answer jobs: paid HTTP \
				 requests keep the rest"
			);
		}
		jobs_config.max_concurrent = jobs_config.max_concurrent.clamp(1, most);
		let submitter = Arc::new(Submitter::new(key, config.finality_timeout));
		let runner = Arc::new(JobRunner {
			queue: jobs.clone(),
			submitter: submitter.clone(),
			journal: journal.clone(),
			registry: registry.clone(),
			infer: infer.clone(),
			genesis,
			config: jobs_config,
			metrics: metrics.clone(),
		});
		tokio::spawn(follow_loop(
			config.url.clone(),
			link.clone(),
			registry,
			jobs,
			infer,
			metrics.clone(),
		));
		// Nonces are pruned on a task of their own: while the node is down, requests still
		// write nonces (then get 503), and the table must not grow without bound.
		tokio::spawn(prune_nonces_loop(journal.clone(), config.batch_interval, config.max_skew_ms));
		tokio::spawn(runner.run(link.clone()));
		tokio::spawn(proof_loop(config, limits, submitter, link, journal, gate, metrics));
		Ok(())
	}
}

/// Counts one proof round's batches in `lineage_usage_batches_total`.
fn observe_round(metrics: &ChainMetrics, r: &RoundReport) {
	let add = |outcome: &str, n: usize| {
		metrics.batches.with_label_values(&[outcome]).inc_by(n as u64);
	};
	add("finalized", usize::from(r.finalized.is_some()));
	add("reconciled", r.reconciled.len());
	add("reconciled_unverified", r.unverified.len());
	add("root_mismatch", r.root_mismatch.len());
	add("rejected", usize::from(r.rejected.is_some()));
	add("settled", r.settled.len());
}

/// Follows finalized blocks, keeping the registry in step with their `Models` events and
/// queueing the jobs of their `Jobs::JobRequested` events, and reconnects (replacing the shared
/// client) whenever the node goes away.
async fn follow_loop(
	url: String,
	link: Arc<ChainLink>,
	registry: Arc<Registry>,
	jobs: Arc<JobQueue>,
	infer: Infer,
	metrics: Arc<ChainMetrics>,
) {
	loop {
		let client = match link.client() {
			Some(c) => c,
			None => {
				let c = connect_retrying(&url).await;
				tracing::info!("reconnected to the node");
				link.set(Some(c.clone()));
				c
			},
		};
		metrics.connected.set(1);
		if let Err(e) = follow(&client, &registry, &jobs, &infer, &metrics).await {
			tracing::warn!(error = %e, "lost the node; reconnecting");
		}
		metrics.connected.set(0);
		link.set(None);
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
}

/// One connection's worth of [`follow_loop`]: a full reload (and every pending job queued) at
/// the start, then block by block as [`plan`] says: the adapters a block's events name are read
/// again, and a gap (a block missed) or an unreadable event reloads everything.
async fn follow(
	client: &LineageClient,
	registry: &Registry,
	jobs: &JobQueue,
	infer: &Infer,
	metrics: &ChainMetrics,
) -> Result<(), ChainError> {
	let at = client.at_current_block().await.map_err(rpc_err)?;
	reload(&at, registry, jobs, infer, metrics).await?;
	let mut blocks = client.stream_blocks().await.map_err(rpc_err)?;
	while let Some(block) = blocks.next().await {
		let block = block.map_err(rpc_err)?;
		let at = block.at().await.map_err(rpc_err)?;
		let events = at.events().fetch().await.map_err(rpc_err)?;
		let number = at.block_number();
		match plan(registry.block(), number, adapters_named(&events)) {
			SyncStep::Skip => {},
			SyncStep::Reload => {
				tracing::info!(
					block = number,
					synced = registry.block(),
					"blocks missed or an event unread: reloading the registry"
				);
				reload(&at, registry, jobs, infer, metrics).await?;
			},
			SyncStep::Update(ids) if ids.is_empty() => registry.set_block(number),
			SyncStep::Update(ids) => {
				let revoked = apply_changes(registry, &StorageAt(&at), &ids, number).await?;
				metrics.registry_reads.with_label_values(&["adapter"]).inc_by(ids.len() as u64);
				unload_revoked(infer, revoked);
				metrics.registry_adapters.set(registry.len() as i64);
				tracing::debug!(block = number, adapters = ?ids, "registry updated");
			},
		}
		for requested in events.find::<lineage::jobs::events::JobRequested>() {
			let requested = requested.map_err(rpc_err)?;
			tracing::info!(
				job = requested.job,
				adapter = requested.adapter,
				"job requested on chain"
			);
			jobs.push(requested.job);
		}
	}
	Err(ClientError::Rpc("the finalized block stream ended".into()).into())
}

/// Reloads the whole registry at block `at`, unloads newly revoked adapters from the cache, and
/// queues every pending job (jobs requested in blocks not followed).
async fn reload(
	at: &BlockClient,
	registry: &Registry,
	jobs: &JobQueue,
	infer: &Infer,
	metrics: &ChainMetrics,
) -> Result<(), ChainError> {
	let adapters = load_adapters_at(at).await?;
	let block = at.block_number();
	unload_revoked(infer, registry.replace(adapters, block));
	metrics.registry_reads.with_label_values(&["full"]).inc();
	metrics.registry_adapters.set(registry.len() as i64);
	let pending = queue_pending(at, jobs).await?;
	tracing::debug!(block, adapters = registry.len(), pending_jobs = pending, "registry synced");
	Ok(())
}

/// Stops serving the adapters with artifact hashes `revoked`.
fn unload_revoked(infer: &Infer, revoked: Vec<lineage_primitives::Hash>) {
	for hash in revoked {
		let unloaded = infer.cache().unload(&hex::encode(hash.0));
		tracing::info!(artifact = %format!("0x{}", hex::encode(hash.0)), unloaded, "adapter revoked on chain: no longer served");
	}
}

/// Forgets payer nonces older than twice `max_skew_ms` every `every`, connected to the chain or
/// not (requests that old are refused as stale before their nonce is looked up).
pub async fn prune_nonces_loop(
	journal: Arc<Journal>,
	every: std::time::Duration,
	max_skew_ms: u64,
) {
	loop {
		let cutoff = unix_time_ms().saturating_sub(max_skew_ms.saturating_mul(2));
		let journal = journal.clone();
		match tokio::task::spawn_blocking(move || journal.prune_nonces(cutoff)).await {
			Ok(Ok(_)) => {},
			Ok(Err(e)) => tracing::warn!(error = %e, "pruning payer nonces failed"),
			Err(e) => tracing::warn!(error = %e, "pruning payer nonces panicked"),
		}
		tokio::time::sleep(every).await;
	}
}

/// Runs [`proof_round`] every `batch_interval` while connected. Its transactions and the job
/// runner's go through the same `submitter`, so the operator's nonces never race.
async fn proof_loop(
	config: ChainConfig,
	limits: BatchLimits,
	submitter: Arc<Submitter>,
	link: Arc<ChainLink>,
	journal: Arc<Journal>,
	gate: Arc<ChainGate>,
	metrics: Arc<ChainMetrics>,
) {
	loop {
		tokio::time::sleep(config.batch_interval).await;
		let Some(client) = link.client() else { continue };
		match proof_round(&client, &journal, &submitter, &gate, limits).await {
			Ok(report) => observe_round(&metrics, &report),
			Err(e) => tracing::warn!(error = %e, "proof round failed; retrying"),
		}
		if let Ok(n) = journal.pending_count() {
			metrics.pending_records.set(n as i64);
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[tokio::test]
	async fn nonces_are_pruned_with_no_chain_connected() {
		let dir = lineage_testkit::temp_dir("prune-nonces");
		let journal = Arc::new(Journal::open(&dir.path().join("journal.redb")).unwrap());
		let payer = lineage_primitives::AccountId::new([1; 32]);
		let now = unix_time_ms();
		assert!(journal.use_nonce(&payer, 1, now - 10_000).unwrap());
		assert!(journal.use_nonce(&payer, 2, now).unwrap());
		// No chain, no proof loop: only the pruning task.
		let task = tokio::spawn(prune_nonces_loop(
			journal.clone(),
			std::time::Duration::from_millis(10),
			1_000,
		));
		tokio::time::sleep(std::time::Duration::from_millis(300)).await;
		task.abort();
		// The old nonce is forgotten (it would be refused as stale first), the fresh one kept.
		assert!(journal.use_nonce(&payer, 1, now - 10_000).unwrap());
		assert!(!journal.use_nonce(&payer, 2, now).unwrap());
	}
}
