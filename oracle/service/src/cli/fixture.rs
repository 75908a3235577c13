//! `lineage-oracle fixture`: the tiny (or benchmark) fixture model with PEFT adapters, or only
//! adapters shaped for SmolLM2, imported into a store.

use std::path::PathBuf;

use lineage_adapters::AdapterStore;
use lineage_engine::fixture::{write_adapters, write_fixture, FixtureSpec};

/// What `lineage-oracle fixture` takes.
#[derive(Clone, Debug, clap::Args)]
pub struct FixtureArgs {
	/// Where to write.
	#[arg(long)]
	pub out: PathBuf,
	/// How many adapters to write.
	#[arg(long, default_value_t = 4)]
	pub adapters: usize,
	/// Write the ~100M-parameter benchmark model instead of the tiny one.
	#[arg(long, alias = "bench-size", conflicts_with = "smollm2")]
	pub bench: bool,
	/// Write only adapters shaped for SmolLM2-135M-Instruct (the GGUF `scripts/setup`
	/// downloads), no model.
	#[arg(long)]
	pub smollm2: bool,
}

/// Writes the fixture `args` ask for and imports its adapters into `OUT/store`, printing what
/// it wrote. Blocks: from async code, call it inside `spawn_blocking`.
pub fn run(args: FixtureArgs) -> anyhow::Result<()> {
	let FixtureArgs { out, adapters, bench, smollm2 } = args;
	if smollm2 {
		let spec = FixtureSpec { adapters, ..FixtureSpec::smollm2() };
		let written = write_adapters(&out, &spec)?;
		let store = AdapterStore::open(out.join("store"))?;
		println!("adapters for {} (serve with --gguf)", spec.model_id);
		println!("store {}", store.root().display());
		for adapter in &written {
			let hash = store.import_named(&adapter.name, &adapter.dir)?;
			println!("adapter {} 0x{} (rank {})", adapter.name, hex::encode(hash.0), adapter.rank);
		}
		return Ok(());
	}
	let mut spec = if bench { FixtureSpec::bench() } else { FixtureSpec::tiny() };
	spec.adapters = adapters;
	let manifest = write_fixture(&out, &spec)?;
	let store = AdapterStore::open(out.join("store"))?;
	println!("model {} in {}", manifest.model_id, manifest.model_dir.display());
	println!("store {}", store.root().display());
	for adapter in &manifest.adapters {
		let hash = store.import_named(&adapter.name, &adapter.dir)?;
		println!("adapter {} 0x{} (rank {})", adapter.name, hex::encode(hash.0), adapter.rank);
	}
	Ok(())
}
