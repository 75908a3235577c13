//! `lineage-factory`: fine-tune a LoRA adapter from frozen datanet versions, register it with a
//! measured lineage, and verify anyone's training manifest.
//!
//! ```text
//! lineage-factory train    --model SmolLM2.gguf --store http://127.0.0.1:8100 --versions 0/1,0/2
//! lineage-factory register --manifest RUN/manifest.json --suri //Alice
//! lineage-factory verify   RUN/manifest.json --model SmolLM2.gguf [--retrain]
//! ```

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use lineage_factory::{
	progress::Progress,
	register::{register, RegisterArgs},
	run::{load_base, train_run, verify_run, TrainRequest, ADAPTER_DIR},
	source::{fetch_versions, parse_version_ref},
	Manifest, TrainConfig,
};
use lineage_store::{chain::ChainView, client::StoreClient};

#[derive(Parser)]
#[command(
	name = "lineage-factory",
	version,
	about = "Lineage's ModelFactory: LoRA fine-tuning from verified datanet versions"
)]
struct Cli {
	#[command(subcommand)]
	command: Command,
}

#[derive(Subcommand)]
enum Command {
	/// Train an adapter from datanet versions, evaluate it, write its PEFT files and manifest.
	Train(TrainCmd),
	/// Register a trained adapter on chain with its measured lineage and post its evaluation.
	Register(RegisterCmd),
	/// Re-check a manifest: the files' hashes, the versions, the evaluation (and the training).
	Verify(VerifyCmd),
}

/// Where the chain and the record store are.
#[derive(Args, Clone)]
struct Endpoints {
	/// The Lineage node's RPC endpoint.
	#[arg(long, env = "LINEAGE_CHAIN", default_value = "ws://127.0.0.1:9944")]
	chain: String,
	/// The record store.
	#[arg(long, env = "LINEAGE_STORE", default_value = "http://127.0.0.1:8100")]
	store: String,
}

/// Every hyper-parameter (defaults: `TrainConfig::default`).
#[derive(Args, Clone)]
struct Hyper {
	/// LoRA targets, comma-separated (q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj).
	#[arg(long, value_delimiter = ',', default_value = "q_proj,k_proj,v_proj,o_proj")]
	targets: Vec<String>,
	/// LoRA rank.
	#[arg(long, default_value_t = 8)]
	rank: usize,
	/// LoRA alpha.
	#[arg(long, default_value_t = 16.0)]
	alpha: f64,
	/// Scale by alpha/√r (rsLoRA).
	#[arg(long)]
	rslora: bool,
	/// Dropout on the LoRA inputs.
	#[arg(long, default_value_t = 0.0)]
	dropout: f64,
	/// Train only the top N decoder layers.
	#[arg(long)]
	top_layers: Option<usize>,
	/// Peak learning rate.
	#[arg(long, default_value_t = 1e-3)]
	lr: f64,
	/// Final learning rate of the cosine decay.
	#[arg(long, default_value_t = 0.0)]
	min_lr: f64,
	/// Warm-up steps.
	#[arg(long, default_value_t = 4)]
	warmup: usize,
	/// AdamW weight decay.
	#[arg(long, default_value_t = 0.0)]
	weight_decay: f64,
	/// Epochs.
	#[arg(long, default_value_t = 1)]
	epochs: usize,
	/// Stop after this many steps.
	#[arg(long)]
	max_steps: Option<usize>,
	/// Sequences per forward pass.
	#[arg(long, default_value_t = 4)]
	micro_batch: usize,
	/// Micro-batches per optimiser step.
	#[arg(long, default_value_t = 2)]
	grad_accum: usize,
	/// Gradient-norm clip (0: none).
	#[arg(long, default_value_t = 1.0)]
	clip: f64,
	/// Seed.
	#[arg(long, default_value_t = 0)]
	seed: u64,
	/// Held-out records per thousand.
	#[arg(long, default_value_t = 100)]
	heldout_permille: u32,
	/// Train on at most this many records.
	#[arg(long)]
	max_train_records: Option<usize>,
	/// Skip records longer than this many tokens.
	#[arg(long, default_value_t = 256)]
	max_seq_len: usize,
	/// Checkpoint every this many steps.
	#[arg(long, default_value_t = 20)]
	checkpoint_every: usize,
	/// Held-out questions answered by generation for exact match.
	#[arg(long, default_value_t = 16)]
	exact_match_limit: usize,
}

impl Hyper {
	fn config(&self) -> TrainConfig {
		TrainConfig {
			targets: self.targets.clone(),
			rank: self.rank,
			alpha: self.alpha,
			rslora: self.rslora,
			dropout: self.dropout,
			top_layers: self.top_layers,
			learning_rate: self.lr,
			min_learning_rate: self.min_lr,
			warmup_steps: self.warmup,
			weight_decay: self.weight_decay,
			epochs: self.epochs,
			max_steps: self.max_steps,
			micro_batch: self.micro_batch,
			grad_accum: self.grad_accum,
			clip_norm: self.clip,
			seed: self.seed,
			heldout_permille: self.heldout_permille,
			max_train_records: self.max_train_records,
			max_seq_len: self.max_seq_len,
			checkpoint_every: self.checkpoint_every,
			exact_match_limit: self.exact_match_limit,
			..TrainConfig::default()
		}
	}
}

#[derive(Args)]
struct TrainCmd {
	/// The base model's GGUF file.
	#[arg(long, env = "SMOLLM2_GGUF_PATH")]
	model: PathBuf,
	/// Datanet versions to train on, DATANET/VERSION, comma-separated.
	#[arg(long, value_delimiter = ',', required = true, value_parser = parse_version_ref)]
	versions: Vec<(u32, u32)>,
	/// Continue training this adapter (its PEFT folder).
	#[arg(long)]
	parent: Option<PathBuf>,
	/// Where run folders live.
	#[arg(long, env = "LINEAGE_RUNS_DIR")]
	runs_dir: Option<PathBuf>,
	/// Start over even if the run has a checkpoint (default: resume it).
	#[arg(long)]
	no_resume: bool,
	/// Train again even if the run is finished.
	#[arg(long)]
	force: bool,
	#[command(flatten)]
	endpoints: Endpoints,
	#[command(flatten)]
	hyper: Hyper,
}

#[derive(Args)]
struct RegisterCmd {
	/// The run's manifest (its adapter is the `adapter` folder beside it).
	#[arg(long)]
	manifest: PathBuf,
	/// The author's key: a secret URI such as //Alice.
	#[arg(long, env = "LINEAGE_SURI")]
	suri: String,
	/// Price per 1,000 input tokens (smallest unit).
	#[arg(long, default_value_t = 1_000_000_000)]
	price_in: u128,
	/// Price per 1,000 output tokens.
	#[arg(long, default_value_t = 2_000_000_000)]
	price_out: u128,
	/// SPDX licence id.
	#[arg(long, default_value = "Apache-2.0")]
	license: String,
	/// Where the adapter's files can be found (default: file:// of its folder).
	#[arg(long)]
	uri: Option<String>,
	/// The Lineage node's RPC endpoint.
	#[arg(long, env = "LINEAGE_CHAIN", default_value = "ws://127.0.0.1:9944")]
	chain: String,
}

#[derive(Args)]
struct VerifyCmd {
	/// The manifest to check.
	manifest: PathBuf,
	/// The base model's GGUF file.
	#[arg(long, env = "SMOLLM2_GGUF_PATH")]
	model: PathBuf,
	/// The adapter's PEFT folder (default: `adapter` beside the manifest).
	#[arg(long)]
	adapter: Option<PathBuf>,
	/// Train again and compare the adapter's artifact hash.
	#[arg(long)]
	retrain: bool,
	#[command(flatten)]
	endpoints: Endpoints,
}

fn runs_dir(given: Option<PathBuf>) -> PathBuf {
	given.unwrap_or_else(|| {
		let home =
			std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
		home.join(".cache/lineage/runs")
	})
}

async fn versions(
	endpoints: &Endpoints,
	wanted: &[(u32, u32)],
) -> anyhow::Result<Vec<lineage_factory::source::VersionData>> {
	let client = lineage_chain::connect(&endpoints.chain).await?;
	let chain = ChainView::new(client);
	fetch_versions(&StoreClient::new(&endpoints.store), &chain, wanted).await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
	tracing_subscriber::fmt()
		.with_env_filter(
			tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
		)
		.with_writer(std::io::stderr)
		.init();
	match Cli::parse().command {
		Command::Train(cmd) => {
			let config = cmd.hyper.config();
			config.check()?;
			let versions = versions(&cmd.endpoints, &cmd.versions).await?;
			let records: usize = versions.iter().map(|v| v.records.len()).sum();
			eprintln!(
				"verified {} records of {} versions against the chain",
				records,
				versions.len()
			);
			let outcome = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
				let (model, base) = load_base(&cmd.model)?;
				train_run(TrainRequest {
					model: &model,
					base,
					versions,
					parent: cmd.parent,
					config,
					runs_dir: runs_dir(cmd.runs_dir),
					resume: !cmd.no_resume,
					force: cmd.force,
					progress: Progress::Bar { every: 10 },
				})
			})
			.await??;
			let e = &outcome.manifest.evaluation;
			println!(
				"{}",
				serde_json::to_string_pretty(&serde_json::json!({
					"run": outcome.dir,
					"reused": outcome.reused,
					"manifest": outcome.dir.join(lineage_factory::manifest::MANIFEST_FILE),
					"manifest_hash": format!("0x{}", hex::encode(outcome.manifest_hash)),
					"adapter": outcome.dir.join(ADAPTER_DIR),
					"artifact_hash": outcome.manifest.adapter.artifact_hash,
					"steps": outcome.manifest.run.steps,
					"tokens": outcome.manifest.run.tokens,
					"heldout_loss": { "base": e.base.loss, "adapter": e.adapter.loss },
					"heldout_perplexity": { "base": e.base.perplexity, "adapter": e.adapter.perplexity },
					"token_accuracy": { "base": e.base.token_accuracy, "adapter": e.adapter.token_accuracy },
					"exact_match": { "base": e.base.exact_match, "adapter": e.adapter.exact_match, "questions": e.adapter.questions },
					"adapter_beats_base": e.adapter_beats_base,
				}))?
			);
			if e.adapter_beats_base {
				eprintln!(
					"the adapter beats the base on its held-out set: loss {:.4} < {:.4}",
					e.adapter.loss, e.base.loss
				);
			} else {
				eprintln!(
					"the adapter does NOT beat the base on its held-out set: loss {:.4} >= {:.4}",
					e.adapter.loss, e.base.loss
				);
			}
		},
		Command::Register(cmd) => {
			let (manifest, hash) = Manifest::read(&cmd.manifest)?;
			let dir = cmd
				.manifest
				.parent()
				.map(|p| p.join(ADAPTER_DIR))
				.unwrap_or_else(|| PathBuf::from(ADAPTER_DIR));
			let client = lineage_chain::connect(&cmd.chain).await?;
			let signer = lineage_chain::keys::keypair_from_suri(&cmd.suri)?;
			let uri = cmd.uri.unwrap_or_else(|| format!("file://{}", dir.display()));
			let done = register(
				&client,
				&signer,
				&RegisterArgs {
					manifest: &manifest,
					manifest_hash: hash,
					adapter_dir: &dir,
					price: (cmd.price_in, cmd.price_out),
					license: &cmd.license,
					uri: &uri,
				},
			)
			.await?;
			println!("{}", serde_json::to_string_pretty(&done)?);
		},
		Command::Verify(cmd) => {
			let (manifest, _) = Manifest::read(&cmd.manifest)?;
			let wanted: Vec<(u32, u32)> =
				manifest.datanets.iter().map(|d| (d.datanet, d.version)).collect();
			let versions = versions(&cmd.endpoints, &wanted).await?;
			let adapter = cmd.adapter.unwrap_or_else(|| {
				cmd.manifest.parent().map(|p| p.join(ADAPTER_DIR)).unwrap_or_default()
			});
			let checks = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
				let (model, base) = load_base(&cmd.model)?;
				let scratch = tempfile_dir()?;
				verify_run(
					&manifest,
					&model,
					&base,
					&adapter,
					versions,
					cmd.retrain.then_some(scratch.as_path()),
				)
			})
			.await??;
			let mut ok = true;
			for c in &checks {
				ok &= c.ok;
				println!("{} {}: {}", if c.ok { "ok  " } else { "FAIL" }, c.what, c.detail);
			}
			if !ok {
				anyhow::bail!("the manifest does not check out");
			}
			println!("the manifest checks out");
		},
	}
	Ok(())
}

/// A scratch folder for retraining.
fn tempfile_dir() -> anyhow::Result<PathBuf> {
	let dir = std::env::temp_dir().join(format!("lineage-factory-verify-{}", std::process::id()));
	std::fs::create_dir_all(&dir)?;
	Ok(dir)
}
