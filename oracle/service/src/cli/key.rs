//! Where a command's key comes from, and the node it signs for.

use std::path::PathBuf;

use anyhow::Context;
use lineage_chain::{
	connect,
	keys::{describe, generate_key_file, KeySource},
	operator::{register, Registration},
	LineageClient,
};
use subxt_signer::sr25519::Keypair;

/// Where the operator key comes from.
#[derive(clap::Args, Clone, Debug)]
#[group(required = true, multiple = false)]
pub struct KeyArgs {
	/// A key file written by `key generate` (mode 0600).
	#[arg(long, env = "LINEAGE_KEY_FILE")]
	pub key_file: Option<PathBuf>,
	/// A secret URI, for development (`//Alice`, `//LineageOracle`).
	#[arg(long)]
	pub suri: Option<String>,
}

impl KeyArgs {
	/// Where the key comes from.
	pub fn source(&self) -> anyhow::Result<KeySource> {
		KeySource::from_options(self.key_file.as_deref(), self.suri.as_deref())
			.context("name the key: --key-file FILE or --suri URI")
	}
}

/// The node, and the account that signs.
#[derive(clap::Args)]
pub struct ChainSigner {
	/// The node's RPC URL.
	#[arg(long, default_value = "ws://127.0.0.1:9944")]
	pub url: String,
	/// The signing key.
	#[command(flatten)]
	pub key: KeyArgs,
}

impl ChainSigner {
	/// Loads the key and connects to the node.
	pub async fn open(&self) -> anyhow::Result<(LineageClient, Keypair)> {
		let key = self.key.source()?.load()?;
		Ok((connect(&self.url).await?, key))
	}
}

/// `lineage-oracle key …`.
#[derive(clap::Subcommand)]
pub enum KeyCommand {
	/// Generate a new sr25519 key into a file readable by its owner only (0600).
	Generate {
		/// The file to create (never overwritten).
		#[arg(long)]
		out: PathBuf,
	},
	/// Print a key's account (SS58) and public key.
	Inspect(KeyArgs),
}

/// `lineage-oracle operator …`.
#[derive(clap::Subcommand)]
pub enum OperatorCommand {
	/// Bond 1,000 LIN from the key's account and register its key and endpoint (idempotent).
	Register {
		/// The node's RPC URL.
		#[arg(long, default_value = "ws://127.0.0.1:9944")]
		url: String,
		#[command(flatten)]
		/// The operator key.
		key: KeyArgs,
		/// Where this operator's oracle serves (recorded on chain for payers).
		#[arg(long, default_value = "http://127.0.0.1:8000")]
		endpoint: String,
	},
}

/// Runs one `key` command, printing its result.
pub fn run_key(cmd: KeyCommand) -> anyhow::Result<()> {
	match cmd {
		KeyCommand::Generate { out } => {
			let key = generate_key_file(&out)?;
			println!("wrote {} (mode 0600)\n{}", out.display(), describe(&key));
			Ok(())
		},
		KeyCommand::Inspect(k) => {
			println!("{}", describe(&k.source()?.load()?));
			Ok(())
		},
	}
}

/// Runs one `operator` command, printing its result.
pub async fn run_operator(cmd: OperatorCommand) -> anyhow::Result<()> {
	match cmd {
		OperatorCommand::Register { url, key, endpoint } => {
			let key = key.source()?.load()?;
			let client = connect(&url).await?;
			match register(&client, &key, &endpoint).await? {
				Registration::Registered { operator, bond } => {
					println!("registered operator {operator} (bond {bond}, endpoint {endpoint})")
				},
				Registration::AlreadyRegistered { operator } => {
					println!("operator {operator} was already registered (endpoint {endpoint})")
				},
			}
			Ok(())
		},
	}
}
