//! Contracts on the Lineage chain (pallet-revive), through subxt: deploy with
//! `Revive::instantiate_with_code`, call with `Revive::call`, read with the `ReviveApi::call`
//! runtime API (a dry run), each with explicit weight and deposit limits.
//!
//! This is how the example dApps are deployed and driven (`lineage-oracle contract …`, the
//! end-to-end tests): ink!'s own tooling cannot decode this runtime's dry runs, subxt can (it
//! reads the types from the metadata).

use alloy_core::sol_types::{Revert, SolCall, SolError};
use subxt::utils::{AccountId32, H160};
use subxt_signer::sr25519::Keypair;

use lineage_chain::{
	keys::account_of,
	lineage::{self, runtime_types::sp_weights::weight_v2::Weight},
	rpc_err, submit_and_finalize, ChainError, Finalized, LineageClient,
};

/// The limits a transaction to a contract runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
	/// Reference time, picoseconds.
	pub ref_time: u64,
	/// Proof size, bytes.
	pub proof_size: u64,
	/// The most storage deposit the caller agrees to pay, in LIN's smallest unit.
	pub storage_deposit: u128,
}

impl Default for Limits {
	/// A tenth of a second of weight, 1 MiB of proof, 10 LIN of storage deposit.
	fn default() -> Self {
		Limits { ref_time: 100_000_000_000, proof_size: 1 << 20, storage_deposit: 100_000_000_000 }
	}
}

impl Limits {
	fn weight(&self) -> Weight {
		Weight { ref_time: self.ref_time, proof_size: self.proof_size }
	}
}

/// Deploys `code` (EVM bytecode, or a PolkaVM blob from `cargo contract build`) with constructor
/// input `data`, endowing the contract with `value` (LIN's smallest unit). Returns the
/// contract's address.
pub async fn deploy(
	client: &LineageClient,
	signer: &Keypair,
	code: Vec<u8>,
	data: Vec<u8>,
	value: u128,
	limits: Limits,
) -> Result<H160, ChainError> {
	let call = lineage::tx().revive().instantiate_with_code(
		value,
		limits.weight(),
		limits.storage_deposit,
		code,
		data,
		None,
	);
	let done = submit_and_finalize(client, &call, signer).await?;
	let instantiated = done
		.events
		.find_first::<lineage::revive::events::Instantiated>()
		.ok_or_else(|| ChainError::Dispatch("no Revive::Instantiated event".into()))?
		.map_err(rpc_err)?;
	Ok(instantiated.contract)
}

/// Calls contract `dest` with `data` (and `value`) in a transaction signed by `signer`. A revert
/// is a [`ChainError::Dispatch`] (`Revive::ContractReverted`).
pub async fn call(
	client: &LineageClient,
	signer: &Keypair,
	dest: H160,
	data: Vec<u8>,
	value: u128,
	limits: Limits,
) -> Result<Finalized, ChainError> {
	let call =
		lineage::tx().revive().call(dest, value, limits.weight(), limits.storage_deposit, data);
	submit_and_finalize(client, &call, signer).await
}

/// What a dry run returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DryRun {
	/// The return data (ABI-encoded).
	pub data: Vec<u8>,
	/// The weight it consumed.
	pub ref_time: u64,
	/// Its proof size.
	pub proof_size: u64,
}

/// Calls `dest` with `data` as `origin` in a dry run at the latest finalized block: nothing is
/// written. A revert comes back as an error with its reason (`Error(string)`) when it has one.
pub async fn read(
	client: &LineageClient,
	origin: &AccountId32,
	dest: H160,
	data: Vec<u8>,
) -> Result<DryRun, ChainError> {
	let at = client.at_current_block().await.map_err(rpc_err)?;
	let api = lineage::runtime_apis::revive_api::ReviveApi;
	#[allow(deprecated)]
	let payload = api.call(*origin, dest, 0, None, None, data);
	let result = at.runtime_apis().call(payload).await.map_err(rpc_err)?;
	let ret = result.result.map_err(|e| ChainError::Dispatch(format!("{e:?}")))?;
	// Bit 0 of the flags: the call reverted.
	if ret.flags.bits & 1 == 1 {
		let reason = Revert::abi_decode(&ret.data)
			.map(|r| r.reason)
			.unwrap_or_else(|_| format!("0x{}", hex::encode(&ret.data)));
		return Err(ChainError::Dispatch(format!("reverted: {reason}")));
	}
	Ok(DryRun {
		data: ret.data,
		ref_time: result.weight_consumed.ref_time,
		proof_size: result.weight_consumed.proof_size,
	})
}

/// The account pallet-revive gives a contract: its address followed by twelve `0xEE` bytes.
pub fn contract_account(address: H160) -> AccountId32 {
	let mut id = [0xEE; 32];
	id[..20].copy_from_slice(&address.0);
	AccountId32(id)
}

/// The H160 address of `signer`'s account (its keccak-derived Ethereum address).
pub fn address_of(signer: &Keypair) -> H160 {
	let account = account_of(signer);
	let hash = sp_keccak(&account.0);
	H160::from_slice(&hash[12..])
}

fn sp_keccak(bytes: &[u8]) -> [u8; 32] {
	alloy_core::primitives::keccak256(bytes).0
}

/// The example dApps' interface (`contracts/solidity/LineageDapp.sol`; the ink! dApp exposes
/// the same Solidity ABI).
pub mod dapp {
	alloy_core::sol! {
		/// The example dApp.
		interface LineageDapp {
			/// A job was asked for.
			event Asked(uint64 indexed jobId, uint32 indexed adapterId);
			/// A job's answer was collected.
			event Answered(uint64 indexed jobId, string output);
			/// Asks adapter `adapterId` (owner only); returns the job id.
			function ask(uint32 adapterId, string calldata prompt, uint32 maxOutputTokens, uint128 maxFee, uint32 ttlBlocks) external returns (uint64 jobId);
			/// Takes a fulfilled job's answer into the dApp's storage.
			function collect(uint64 jobId) external returns (string memory output);
			/// A collected answer.
			function answer(uint64 jobId) external view returns (string memory);
			/// An adapter's lineage, through the precompile.
			function lineageOf(uint32 adapterId) external view returns (uint32 baseModel, address author, bool hasParent, uint32 parent, uint32[] memory datanets, uint32[] memory versions, uint32[] memory weightsPpb);
		}
	}
}

/// What [`run_dapp_demo`] saw.
#[derive(Clone, Debug)]
pub struct DappDemo {
	/// The dApp's address.
	pub dapp: H160,
	/// The job.
	pub job: u64,
	/// The answer, read back from the dApp.
	pub answer: String,
	/// The prompt's and the answer's tokens.
	pub tokens: (u64, u64),
	/// The fee charged.
	pub fee: u128,
	/// Its split: author, base-model owner, datanets, operator, treasury.
	pub split: [u128; 5],
	/// The dApp's balance before the ask and after the collect.
	pub balance: (u128, u128),
}

/// The dApp demo of `scripts/dev`: `owner` deploys the dApp `code` with 20 LIN, asks `adapter`
/// `prompt` through it (the oracle must be serving), waits for the answer on chain, collects it
/// and reads it back. Fails after `timeout`.
pub async fn run_dapp_demo(
	client: &LineageClient,
	owner: &Keypair,
	code: Vec<u8>,
	adapter: u32,
	prompt: &str,
	timeout: std::time::Duration,
) -> Result<DappDemo, ChainError> {
	const UNIT: u128 = 10_000_000_000;
	let limits = Limits::default();
	let address = deploy(client, owner, code, Vec::new(), 20 * UNIT, limits).await?;
	let account = contract_account(address);
	let balance = |client: &LineageClient| {
		let client = client.clone();
		async move {
			let at = client.at_current_block().await.map_err(rpc_err)?;
			lineage_chain::free_balance(&at, account).await
		}
	};
	let before = balance(client).await?;
	// Follow finalized blocks from before the ask, so the answer's block is not missed.
	let mut blocks = client.stream_blocks().await.map_err(rpc_err)?;
	let ask = dapp::LineageDapp::askCall {
		adapterId: adapter,
		prompt: prompt.into(),
		maxOutputTokens: 24,
		maxFee: UNIT,
		ttlBlocks: 600,
	};
	let done = call(client, owner, address, ask.abi_encode(), 0, limits).await?;
	let job = done
		.events
		.find_first::<lineage::jobs::events::JobRequested>()
		.ok_or_else(|| ChainError::Dispatch("the ask requested no job".into()))?
		.map_err(rpc_err)?
		.job;
	let deadline = std::time::Instant::now() + timeout;
	let (tokens, fee, split) = loop {
		if std::time::Instant::now() > deadline {
			return Err(ChainError::Rpc(
				format!("job {job} was not answered in {timeout:?}").into(),
			));
		}
		let block = blocks
			.next()
			.await
			.ok_or_else(|| ChainError::Rpc("the block stream ended".into()))?
			.map_err(rpc_err)?;
		let events = block.at().await.map_err(rpc_err)?.events().fetch().await.map_err(rpc_err)?;
		let fulfilled = events
			.find::<lineage::jobs::events::JobFulfilled>()
			.filter_map(Result::ok)
			.find(|e| e.job == job);
		if let Some(f) = fulfilled {
			let split = events
				.find_first::<lineage::attribution::events::FeesSplit>()
				.and_then(Result::ok)
				.map(|s| [s.author, s.base_owner, s.datanets, s.operator, s.treasury])
				.unwrap_or_default();
			break ((f.input_tokens, f.output_tokens), f.fee, split);
		}
	};
	call(
		client,
		owner,
		address,
		dapp::LineageDapp::collectCall { jobId: job }.abi_encode(),
		0,
		limits,
	)
	.await?;
	let read = read(
		client,
		&account_of(owner),
		address,
		dapp::LineageDapp::answerCall { jobId: job }.abi_encode(),
	)
	.await?;
	let answer = dapp::LineageDapp::answerCall::abi_decode_returns(&read.data)
		.map_err(|e| ChainError::Rpc(format!("the dApp's answer does not decode: {e}").into()))?;
	let after = balance(client).await?;
	Ok(DappDemo { dapp: address, job, answer, tokens, fee, split, balance: (before, after) })
}

impl std::fmt::Display for DappDemo {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		let lin = |v: u128| v as f64 / 1e10;
		writeln!(f, "dApp {:?}: job {} answered on chain", self.dapp, self.job)?;
		writeln!(
			f,
			"    {:?} ({} prompt + {} completion tokens), fee {:.6} LIN",
			self.answer,
			self.tokens.0,
			self.tokens.1,
			lin(self.fee)
		)?;
		let [author, base, datanets, operator, treasury] = self.split;
		writeln!(
			f,
			"    split: author {:.6}, base-model owner {:.6}, datanets {:.6}, operator {:.6}, treasury {:.6} LIN",
			lin(author),
			lin(base),
			lin(datanets),
			lin(operator),
			lin(treasury)
		)?;
		write!(
			f,
			"    the dApp's balance {:.6} → {:.6} LIN (the fee; the job's deposit came back)",
			lin(self.balance.0),
			lin(self.balance.1)
		)
	}
}
