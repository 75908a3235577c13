//! `lineage-store`: the record store of a datanet (see the crate docs of `lineage_store`).

use clap::{Parser, Subcommand};

/// Lineage record store: datanet records by sha-256 / IPFS CID, signed uploads, verified
/// versions.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
	#[command(subcommand)]
	command: Command,
}

#[derive(Subcommand)]
enum Command {
	/// Serve a record store.
	Serve(lineage_store::ServeArgs),
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
		Command::Serve(args) => lineage_store::serve(args).await,
	}
}
