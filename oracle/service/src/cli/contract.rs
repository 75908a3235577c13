//! `lineage-oracle contract …`: deploy, call and read contracts through pallet-revive, and the
//! dApp demo (the work is in [`lineage_client::contracts`]).

use std::path::PathBuf;

use anyhow::Context;
use lineage_chain::keys::account_of;
use lineage_client::contracts;

use super::key::ChainSigner;

/// `lineage-oracle contract …`.
#[derive(clap::Subcommand)]
pub enum ContractCommand {
	/// Deploy a contract with `Revive::instantiate_with_code` (EVM bytecode from solc, or the
	/// `.polkavm` blob of `cargo contract build`); prints its address.
	Deploy {
		#[command(flatten)]
		/// The node and the signing account.
		signer: ChainSigner,
		/// The code file (raw bytes).
		#[arg(long)]
		code: PathBuf,
		/// The constructor's ABI-encoded input, hex (empty by default).
		#[arg(long, default_value = "")]
		data: String,
		/// What to endow the contract with, in LIN's smallest unit (10 decimals).
		#[arg(long, default_value_t = 0)]
		value: u128,
	},
	/// Call a contract in a transaction (`Revive::call`).
	Call {
		#[command(flatten)]
		/// The node and the signing account.
		signer: ChainSigner,
		#[command(flatten)]
		/// The contract and the call.
		input: ContractInput,
		/// Value sent along, in LIN's smallest unit.
		#[arg(long, default_value_t = 0)]
		value: u128,
	},
	/// Call a contract in a dry run (`ReviveApi::call`) and print the returned data, hex.
	Read {
		#[command(flatten)]
		/// The node and the signing account.
		signer: ChainSigner,
		#[command(flatten)]
		/// The contract and the call.
		input: ContractInput,
	},
	/// The dApp demo: deploy the dApp, ask an adapter through it, wait for the oracle's answer on
	/// chain, collect it, print it with its fee and split (needs a chain-mode oracle).
	Demo {
		#[command(flatten)]
		/// The node and the signing account.
		signer: ChainSigner,
		/// The dApp's code (`scripts/contracts` builds contracts/build/LineageDapp.bin).
		#[arg(long)]
		code: PathBuf,
		/// The adapter to ask.
		#[arg(long, default_value_t = 0)]
		adapter: u32,
		/// The question.
		#[arg(long, default_value = "What is 2 + 2?")]
		prompt: String,
	},
}

/// A contract and an ABI-encoded call to it.
#[derive(clap::Args)]
pub struct ContractInput {
	/// The contract's address (0x…, 20 bytes).
	#[arg(long)]
	pub address: String,
	/// The ABI-encoded call, hex.
	#[arg(long)]
	pub data: String,
}

/// A contract's code from a file built by `scripts/contracts`.
fn read_code(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
	std::fs::read(path)
		.with_context(|| format!("reading {} (build it with scripts/contracts)", path.display()))
}

/// Hex (with or without `0x`) to bytes.
fn unhex(what: &str, s: &str) -> anyhow::Result<Vec<u8>> {
	hex::decode(s.trim_start_matches("0x")).with_context(|| format!("{what} is not hex: {s}"))
}

/// A 20-byte address from hex.
fn h160(s: &str) -> anyhow::Result<subxt::utils::H160> {
	let bytes = unhex("the address", s)?;
	anyhow::ensure!(bytes.len() == 20, "the address must be 20 bytes, got {}", bytes.len());
	Ok(subxt::utils::H160::from_slice(&bytes))
}

/// Runs one `contract` command, printing its result.
pub async fn run(cmd: ContractCommand) -> anyhow::Result<()> {
	match cmd {
		ContractCommand::Deploy { signer, code, data, value } => {
			let code = read_code(&code)?;
			let (client, key) = signer.open().await?;
			let data = unhex("--data", &data)?;
			let limits = contracts::Limits::default();
			let address = contracts::deploy(&client, &key, code, data, value, limits).await?;
			println!("{address:?}");
			Ok(())
		},
		ContractCommand::Call { signer, input, value } => {
			let (client, key) = signer.open().await?;
			let (address, data) = (h160(&input.address)?, unhex("--data", &input.data)?);
			let limits = contracts::Limits::default();
			let done = contracts::call(&client, &key, address, data, value, limits).await?;
			println!("finalized in block {:?}", done.block_hash);
			Ok(())
		},
		ContractCommand::Read { signer, input } => {
			let (client, key) = signer.open().await?;
			let (address, data) = (h160(&input.address)?, unhex("--data", &input.data)?);
			let origin = account_of(&key);
			let out = contracts::read(&client, &origin, address, data).await?;
			println!("0x{}", hex::encode(out.data));
			Ok(())
		},
		ContractCommand::Demo { signer, code, adapter, prompt } => {
			let code = read_code(&code)?;
			let (client, key) = signer.open().await?;
			println!("dApp → adapter {adapter}: {prompt:?}");
			let timeout = std::time::Duration::from_secs(300);
			let report =
				contracts::run_dapp_demo(&client, &key, code, adapter, &prompt, timeout).await?;
			println!("{report}");
			Ok(())
		},
	}
}
