//! The `lineage-oracle` binary: clap commands only; the work is in the libraries.
//!
//! - `serve`: the OpenAI-compatible HTTP server over a base model and its LoRA adapters;
//! - `fixture`: write the tiny (or benchmark) fixture model with PEFT adapters, and import the
//!   adapters into a store;
//! - `bench`: the multi-LoRA serving benchmark;
//! - `key generate|inspect`: the operator's key;
//! - `operator register`: bond and register the operator on chain;
//! - `demo`: the scripted walk through the whole path against a running chain and oracle;
//! - `datanet-demo`: a datanet filled from WordNet through a record store, verified against
//!   the chain;
//! - `contract deploy|call|read|demo`: contracts through pallet-revive.

use clap::{Parser, Subcommand};
use lineage_bench::cli::BenchArgs;
use lineage_client::demo;
use lineage_oracle::cli::{
	contract::{self, ContractCommand},
	fixture::{self, FixtureArgs},
	key::{self, KeyCommand, OperatorCommand},
	serve::{self, ServeArgs},
};

#[derive(Parser)]
#[command(
	name = "lineage-oracle",
	version,
	about = "Lineage oracle: LoRA inference with usage proofs"
)]
struct Cli {
	#[command(subcommand)]
	command: Command,
}

#[derive(Subcommand)]
enum Command {
	/// Serve the OpenAI-compatible API.
	Serve(ServeArgs),
	/// Write the fixture model and adapters, and import the adapters into `OUT/store`.
	Fixture(FixtureArgs),
	/// Run the multi-LoRA serving benchmark and print its table.
	Bench(BenchArgs),
	/// The operator's key.
	#[command(subcommand)]
	Key(KeyCommand),
	/// The operator's registration on chain.
	#[command(subcommand)]
	Operator(OperatorCommand),
	/// The scripted demo: registries, operator, escrow, signed completions, settlement, and the
	/// earnings table read back from the chain (needs a dev chain and a chain-mode oracle).
	Demo(demo::DemoArgs),
	/// The datanet demo: a datanet filled from WordNet through a record store, curated, frozen
	/// in two versions, and verified byte for byte against the chain (needs a dev chain and a
	/// record store).
	DatanetDemo(lineage_client::datanet_demo::DatanetDemoArgs),
	/// The training demo's end: a trained adapter loaded, a held-out question asked of the base
	/// and the adapter, and the adapter's evaluation read back from the chain.
	TrainDemo(lineage_client::train_demo::TrainDemoArgs),
	/// Contracts (pallet-revive): deploy, call, read.
	#[command(subcommand)]
	Contract(ContractCommand),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
	tracing_subscriber::fmt()
		.with_env_filter(
			tracing_subscriber::EnvFilter::try_from_default_env()
				.unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
		)
		.init();
	match Cli::parse().command {
		Command::Serve(args) => serve::run(args).await,
		Command::Fixture(args) => tokio::task::spawn_blocking(move || fixture::run(args)).await?,
		Command::Bench(args) => {
			let report =
				tokio::task::spawn_blocking(move || lineage_bench::cli::run(args)).await??;
			println!("{report}");
			Ok(())
		},
		Command::Key(cmd) => key::run_key(cmd),
		Command::Operator(cmd) => key::run_operator(cmd).await,
		Command::Demo(args) => demo::run(args).await,
		Command::DatanetDemo(args) => lineage_client::datanet_demo::run(args).await,
		Command::TrainDemo(args) => lineage_client::train_demo::run(args).await,
		Command::Contract(cmd) => contract::run(cmd).await,
	}
}
