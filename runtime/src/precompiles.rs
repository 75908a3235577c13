//! The Lineage precompile: contracts and Ethereum wallets reach Lineage's pallets through it.
//!
//! Its Solidity interface is `contracts/ILineage.sol` (the one source of the ABI: the `sol!`
//! macro below reads it). It lives at [`LineagePrecompile::address`], registered in
//! `pallet_revive::Config::Precompiles` (`configs/contracts.rs`).
//!
//! The logic is in the pallets; this module only
//! - charges weight before any work: the pallet's benchmarked weight for the calls that
//!   dispatch (`requestCompletion`, `takeOutput`, `depositEscrow`), the database reads and their
//!   proof sizes for the views (precompiles are not metered otherwise);
//! - refuses value (no function is payable), delegate calls, and state changes in static calls;
//! - takes the caller from `env.caller()`: the wallet, or the contract that calls;
//! - turns a pallet's error into a revert whose reason is the error's name.
//!
//! Input that does not decode against the interface never reaches [`LineagePrecompile::call`]:
//! pallet-revive answers it with `Panic(0x41)`.

#![warn(missing_docs)]

use crate::{AccountId, Balance, BlockNumber, Runtime};
use alloc::{string::String, vec::Vec};
use core::num::NonZero;
use lineage_primitives::jobs::SamplingParams;
use pallet_revive::precompiles::{
	alloy::{self, primitives::Address, sol_types::SolCall},
	AddressMatcher, Error, Ext, Precompile, H160,
};
use polkadot_sdk::{
	frame_support::{traits::Get, weights::Weight, BoundedVec},
	frame_system::RawOrigin,
	pallet_revive::{self, AddressMapper},
	sp_runtime::{DispatchError, ModuleError},
};

alloy::sol!("../contracts/ILineage.sol");

use ILineage::ILineageCalls as Calls;

/// The precompile's index: `AddressMatcher::Fixed(0x0C00)`, address
/// `0x000000000000000000000000000000000c000000`.
pub const LINEAGE_PRECOMPILE_INDEX: u16 = 0x0C00;

/// Job states as `jobStatus` reports them.
mod job_state {
	/// Never requested, taken or expired.
	pub const NONE: u8 = 0;
	/// Waiting for an operator.
	pub const PENDING: u8 = 1;
	/// Answered; the output can be read or taken.
	pub const FULFILLED: u8 = 2;
}

/// The Lineage precompile (see the module documentation).
pub struct LineagePrecompile;

impl LineagePrecompile {
	/// The precompile's H160 address.
	pub fn address() -> H160 {
		H160(<Self as Precompile>::MATCHER.base_address())
	}
}

/// The weight of `reads` database reads whose values are at most `proof_bytes` bytes together
/// (their share of the parachain proof), plus a microsecond of decoding and encoding.
fn read_cost(reads: u64, proof_bytes: usize) -> Weight {
	<Runtime as polkadot_sdk::frame_system::Config>::DbWeight::get()
		.reads(reads)
		.saturating_add(Weight::from_parts(1_000_000, proof_bytes as u64))
}

/// The largest encoded size of a storage value, plus its key (hashed prefixes and key).
fn proof_of<V: codec::MaxEncodedLen>() -> usize {
	V::max_encoded_len().saturating_add(64)
}

/// A revert with `reason`.
fn revert(reason: &str) -> Error {
	Error::Revert(reason.into())
}

/// A pallet's error as a revert whose reason is the error's name (e.g. "UnknownAdapter").
fn dispatch_revert(e: DispatchError) -> Error {
	match e {
		DispatchError::Module(ModuleError { message: Some(name), .. }) => revert(name),
		other => Error::Revert(alloc::format!("{other:?}").into()),
	}
}

/// Refuses a delegate call and value sent along.
fn ensure_plain_call(env: &impl Ext<T = Runtime>) -> Result<(), Error> {
	if env.is_delegate_call() {
		return Err(revert("the Lineage precompile cannot be delegate-called"));
	}
	if !env.value_transferred().is_zero() {
		return Err(revert("the Lineage precompile is not payable: fees are held from the caller"));
	}
	Ok(())
}

/// Refuses a state change in a static call.
fn ensure_mutable(env: &impl Ext<T = Runtime>) -> Result<(), Error> {
	if env.is_read_only() {
		return Err(revert("state change refused in a static call"));
	}
	Ok(())
}

/// The caller's account.
fn caller(env: &impl Ext<T = Runtime>) -> Result<AccountId, Error> {
	env.caller()
		.account_id()
		.cloned()
		.map_err(|_| revert("the caller must be an account or a contract, not root"))
}

/// The account of an H160 address (a mapped wallet, or a contract's or unmapped address's
/// fallback account).
fn account_of(address: &Address) -> AccountId {
	<Runtime as pallet_revive::Config>::AddressMapper::to_account_id(&H160(address.into_array()))
}

/// The H160 address of an account.
fn address_of(account: &AccountId) -> Address {
	Address::from(<Runtime as pallet_revive::Config>::AddressMapper::to_address(account).0)
}

/// Text from stored UTF-8 bytes (the pallets check it is UTF-8).
fn text(bytes: &[u8]) -> String {
	String::from_utf8_lossy(bytes).into_owned()
}

impl Precompile for LineagePrecompile {
	type T = Runtime;
	type Interface = Calls;
	const MATCHER: AddressMatcher =
		AddressMatcher::Fixed(NonZero::new(LINEAGE_PRECOMPILE_INDEX).unwrap());
	const HAS_CONTRACT_INFO: bool = false;

	fn call(
		_address: &[u8; 20],
		input: &Self::Interface,
		env: &mut impl Ext<T = Self::T>,
	) -> Result<Vec<u8>, Error> {
		ensure_plain_call(env)?;
		match input {
			Calls::requestCompletion(c) => request_completion(c, env),
			Calls::jobStatus(c) => job_status(c, env),
			Calls::jobOutput(c) => job_output(c, env),
			Calls::takeOutput(c) => take_output(c, env),
			Calls::depositEscrow(c) => deposit_escrow(c, env),
			Calls::escrowOf(c) => escrow_of(c, env),
			Calls::adapterLineage(c) => adapter_lineage(c, env),
			Calls::adapterPrice(c) => adapter_price(c, env),
			Calls::pendingRewards(c) => pending_rewards(c, env),
		}
	}
}

type JobsWeights = <Runtime as pallet_jobs::Config>::WeightInfo;
type MaxPromptLength = <Runtime as pallet_jobs::Config>::MaxPromptLength;

fn request_completion(
	c: &ILineage::requestCompletionCall,
	env: &mut impl Ext<T = Runtime>,
) -> Result<Vec<u8>, Error> {
	use pallet_jobs::WeightInfo;
	let len = u32::try_from(c.prompt.len()).unwrap_or(u32::MAX).min(MaxPromptLength::get());
	env.charge(JobsWeights::request(len))?;
	ensure_mutable(env)?;
	let requester = caller(env)?;
	let prompt: BoundedVec<u8, MaxPromptLength> =
		BoundedVec::try_from(c.prompt.as_bytes().to_vec()).map_err(|_| revert("PromptTooLong"))?;
	let operator = (!c.operator.is_zero()).then(|| account_of(&c.operator));
	let sampling = SamplingParams {
		temperature_milli: c.temperatureMilli,
		top_p_milli: c.topPMilli,
		seed: c.seed,
	};
	let job = pallet_jobs::Pallet::<Runtime>::do_request(
		requester,
		c.adapterId,
		prompt,
		c.maxOutputTokens,
		sampling,
		c.maxFee,
		c.ttlBlocks,
		operator,
	)
	.map_err(dispatch_revert)?;
	Ok(ILineage::requestCompletionCall::abi_encode_returns(&job))
}

fn job_status(
	c: &ILineage::jobStatusCall,
	env: &mut impl Ext<T = Runtime>,
) -> Result<Vec<u8>, Error> {
	env.charge(read_cost(1, proof_of::<pallet_jobs::Job<Runtime>>()))?;
	let status = match pallet_jobs::Jobs::<Runtime>::get(c.jobId) {
		None => ILineage::jobStatusReturn {
			state: job_state::NONE,
			requester: Address::ZERO,
			adapterId: 0,
			inputTokens: 0,
			outputTokens: 0,
			fee: 0,
			expiresAt: 0,
		},
		Some(job) => {
			let (state, input_tokens, output_tokens, fee) = match job.state {
				pallet_jobs::JobState::Pending => (job_state::PENDING, 0, 0, 0),
				pallet_jobs::JobState::Fulfilled { input_tokens, output_tokens, fee, .. } => {
					(job_state::FULFILLED, input_tokens, output_tokens, fee)
				},
			};
			ILineage::jobStatusReturn {
				state,
				requester: address_of(&job.requester),
				adapterId: job.adapter,
				inputTokens: input_tokens,
				outputTokens: output_tokens,
				fee,
				expiresAt: job.expires_at,
			}
		},
	};
	Ok(ILineage::jobStatusCall::abi_encode_returns(&status))
}

fn job_output(
	c: &ILineage::jobOutputCall,
	env: &mut impl Ext<T = Runtime>,
) -> Result<Vec<u8>, Error> {
	env.charge(read_cost(
		2,
		proof_of::<pallet_jobs::Job<Runtime>>()
			.saturating_add(proof_of::<pallet_jobs::OutputOf<Runtime>>()),
	))?;
	if !pallet_jobs::Jobs::<Runtime>::contains_key(c.jobId) {
		return Err(revert("UnknownJob"));
	}
	let output = pallet_jobs::Outputs::<Runtime>::get(c.jobId).ok_or(revert("NotFulfilled"))?;
	Ok(ILineage::jobOutputCall::abi_encode_returns(&text(&output)))
}

fn take_output(
	c: &ILineage::takeOutputCall,
	env: &mut impl Ext<T = Runtime>,
) -> Result<Vec<u8>, Error> {
	use pallet_jobs::WeightInfo;
	env.charge(JobsWeights::take_output())?;
	ensure_mutable(env)?;
	let who = caller(env)?;
	let output =
		pallet_jobs::Pallet::<Runtime>::do_take_output(&who, c.jobId).map_err(dispatch_revert)?;
	Ok(ILineage::takeOutputCall::abi_encode_returns(&text(&output)))
}

fn deposit_escrow(
	c: &ILineage::depositEscrowCall,
	env: &mut impl Ext<T = Runtime>,
) -> Result<Vec<u8>, Error> {
	use pallet_usage::WeightInfo;
	env.charge(<Runtime as pallet_usage::Config>::WeightInfo::deposit_escrow())?;
	ensure_mutable(env)?;
	let payer = caller(env)?;
	pallet_usage::Pallet::<Runtime>::deposit_escrow(
		RawOrigin::Signed(payer).into(),
		account_of(&c.operator),
		c.amount,
	)
	.map_err(dispatch_revert)?;
	Ok(Vec::new())
}

fn escrow_of(
	c: &ILineage::escrowOfCall,
	env: &mut impl Ext<T = Runtime>,
) -> Result<Vec<u8>, Error> {
	env.charge(read_cost(1, proof_of::<pallet_usage::EscrowInfoOf<Runtime>>()))?;
	let balance: Balance =
		pallet_usage::Pallet::<Runtime>::escrow_of(&account_of(&c.payer), &account_of(&c.operator));
	Ok(ILineage::escrowOfCall::abi_encode_returns(&balance))
}

/// Reads adapter `id`'s record, charging for it first.
fn adapter(
	id: u32,
	env: &mut impl Ext<T = Runtime>,
) -> Result<pallet_models::AdapterInfo<Runtime>, Error> {
	env.charge(read_cost(1, proof_of::<pallet_models::AdapterInfo<Runtime>>()))?;
	pallet_models::Adapters::<Runtime>::get(id).ok_or(revert("UnknownAdapter"))
}

fn adapter_lineage(
	c: &ILineage::adapterLineageCall,
	env: &mut impl Ext<T = Runtime>,
) -> Result<Vec<u8>, Error> {
	let info = adapter(c.adapterId, env)?;
	let (datanets, versions, weights) = info.training.iter().fold(
		(Vec::new(), Vec::new(), Vec::new()),
		|(mut d, mut v, mut w), (version, weight)| {
			d.push(version.datanet);
			v.push(version.version);
			w.push(weight.deconstruct());
			(d, v, w)
		},
	);
	let lineage = ILineage::adapterLineageReturn {
		baseModel: info.base_model,
		author: address_of(&info.author),
		hasParent: info.parent.is_some(),
		parent: info.parent.unwrap_or_default(),
		datanets,
		versions,
		weightsPpb: weights,
	};
	Ok(ILineage::adapterLineageCall::abi_encode_returns(&lineage))
}

fn adapter_price(
	c: &ILineage::adapterPriceCall,
	env: &mut impl Ext<T = Runtime>,
) -> Result<Vec<u8>, Error> {
	let info = adapter(c.adapterId, env)?;
	let now: BlockNumber = polkadot_sdk::frame_system::Pallet::<Runtime>::block_number();
	let price = info.price_at(now).unwrap_or(info.price);
	Ok(ILineage::adapterPriceCall::abi_encode_returns(&ILineage::adapterPriceReturn {
		per1kInput: price.per_1k_input,
		per1kOutput: price.per_1k_output,
	}))
}

fn pending_rewards(
	c: &ILineage::pendingRewardsCall,
	env: &mut impl Ext<T = Runtime>,
) -> Result<Vec<u8>, Error> {
	type Attribution = pallet_attribution::Pallet<Runtime>;
	// The four role credits first, then per datanet version the caller has weight in: its
	// weight, its checkpoint, the pool and the reward index's nodes on the walk (at most 14 for
	// 10,000 versions).
	let credit = proof_of::<Balance>().saturating_add(64);
	env.charge(read_cost(4, credit.saturating_mul(4)))?;
	let per_datanet = read_cost(17, 1_280);
	let who = account_of(&c.account);
	let rewards =
		Attribution::pending_rewards_metered(&who, || env.charge(per_datanet).map(|_| ()))
			.map_err(|e| Error::Error(e.into()))?;
	let total = rewards
		.versions
		.iter()
		.fold(rewards.as_author, |sum, (_, _, owed)| sum.saturating_add(*owed))
		.saturating_add(rewards.as_base_owner)
		.saturating_add(rewards.as_operator)
		.saturating_add(rewards.as_contributor);
	Ok(ILineage::pendingRewardsCall::abi_encode_returns(&total))
}
