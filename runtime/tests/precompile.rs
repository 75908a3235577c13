//! The Lineage precompile on the real runtime, called as contracts and wallets call it: through
//! `Revive::bare_call` with ABI-encoded input (from a wallet directly, and from two tiny EVM
//! contracts that forward their call data with CALL and with STATICCALL).
//!
//! Run with `--nocapture` to print the weight each call is charged.

mod common;

use lineage_primitives::jobs::{fulfilment_payload, response_hash, Fulfilment};
use lineage_runtime::{
	precompiles::{ILineage, LineagePrecompile},
	Balances, Datanets, Jobs, Models, Revive, Runtime, RuntimeOrigin, System, Usage,
};
use pallet_jobs::WeightInfo as _;
use polkadot_sdk::{
	frame_support::{traits::fungible::Mutate, BoundedVec},
	pallet_revive::{
		self,
		precompiles::{
			alloy::{
				primitives::Address,
				sol_types::{Revert, SolCall, SolError},
			},
			H160, U256,
		},
		AddressMapper, Code, ExecConfig, TransactionLimits,
	},
	sp_core::{sr25519, Pair, H256},
	sp_keyring::Sr25519Keyring,
	sp_runtime::{AccountId32, Perbill},
	sp_weights::Weight,
};

type Mapper = <Runtime as pallet_revive::Config>::AddressMapper;
type JobsWeights = <Runtime as pallet_jobs::Config>::WeightInfo;

const UNIT: u128 = lineage_runtime::currency::UNIT;
/// The adapter's price per 1k input and per 1k output tokens.
const PER_1K_IN: u128 = UNIT / 100;
const PER_1K_OUT: u128 = UNIT / 50;

/// What a call returned: its data, whether it reverted, the weight it consumed.
struct Outcome {
	data: Vec<u8>,
	reverted: bool,
	weight: Weight,
}

impl Outcome {
	/// The revert reason, if the call reverted with `Error(string)`.
	fn reason(&self) -> Option<String> {
		(self.reverted).then(|| Revert::abi_decode(&self.data).ok().map(|r| r.reason))?
	}
}

/// Calls `dest` as `who` with `data`, sending `value` (EVM units).
fn call_with_value(who: &AccountId32, dest: H160, data: Vec<u8>, value: U256) -> Outcome {
	let result = Revive::bare_call(
		RuntimeOrigin::signed(who.clone()),
		dest,
		value,
		TransactionLimits::WeightAndDeposit {
			weight_limit: Weight::from_parts(500_000_000_000, 10 * 1024 * 1024),
			deposit_limit: 100 * UNIT,
		},
		data,
		&ExecConfig::new_substrate_tx(),
	);
	let value = result.result.unwrap_or_else(|e| panic!("the call trapped: {e:?}"));
	Outcome { reverted: value.did_revert(), data: value.data, weight: result.weight_consumed }
}

/// Calls the precompile as `who` with `data`.
fn call(who: &AccountId32, data: Vec<u8>) -> Outcome {
	call_with_value(who, LineagePrecompile::address(), data, U256::zero())
}

/// Calls the precompile as `who`, expects success, and decodes the return with `C`.
fn ok<C: SolCall>(who: &AccountId32, c: C) -> C::Return {
	let out = call(who, c.abi_encode());
	assert!(!out.reverted, "{} reverted: {:?}", C::SIGNATURE, out.reason());
	C::abi_decode_returns(&out.data).expect("the return decodes against ILineage.sol")
}

fn account(k: Sr25519Keyring) -> AccountId32 {
	k.to_account_id()
}

fn address(who: &AccountId32) -> Address {
	Address::from(Mapper::to_address(who).0)
}

/// The operator's signing key.
fn operator_pair() -> sr25519::Pair {
	sr25519::Pair::from_string("//LineagePrecompileOperator", None).unwrap()
}

/// Registers a datanet with one contribution (Bob's) and a frozen version (Alice's), a base model
/// (Charlie's), an adapter trained on the version (Dave's) and an operator (Eve, key
/// [`operator_pair`]). Returns the adapter.
fn setup() -> u32 {
	let alice = RuntimeOrigin::signed(account(Sr25519Keyring::Alice));
	let datanet = pallet_datanets::NextDatanetId::<Runtime>::get();
	Datanets::create_datanet(
		alice.clone(),
		BoundedVec::truncate_from(b"maths".to_vec()),
		BoundedVec::new(),
		BoundedVec::new(),
		pallet_datanets::ContributionPolicy::Open,
	)
	.unwrap();
	Datanets::contribute(
		RuntimeOrigin::signed(account(Sr25519Keyring::Bob)),
		datanet,
		H256::repeat_byte(1),
		1_000,
		1_000,
		None,
	)
	.unwrap();
	Datanets::freeze_version(alice, datanet).unwrap();
	let model = pallet_models::NextModelId::<Runtime>::get();
	Models::register_model(
		RuntimeOrigin::signed(account(Sr25519Keyring::Charlie)),
		H256::repeat_byte(2),
		BoundedVec::truncate_from(b"llama".to_vec()),
		BoundedVec::truncate_from(b"Apache-2.0".to_vec()),
		BoundedVec::new(),
	)
	.unwrap();
	let adapter = pallet_models::NextAdapterId::<Runtime>::get();
	Models::register_adapter(
		RuntimeOrigin::signed(account(Sr25519Keyring::Dave)),
		model,
		None,
		H256::repeat_byte(3),
		8,
		BoundedVec::truncate_from(vec![BoundedVec::truncate_from(b"q_proj".to_vec())]),
		pallet_models::Price { per_1k_input: PER_1K_IN, per_1k_output: PER_1K_OUT },
		BoundedVec::truncate_from(b"Apache-2.0".to_vec()),
		BoundedVec::new(),
		BoundedVec::truncate_from(vec![(
			lineage_primitives::DatanetVersionRef { datanet, version: 1 },
			Perbill::one(),
		)]),
	)
	.unwrap();
	Usage::register_operator(
		RuntimeOrigin::signed(account(Sr25519Keyring::Eve)),
		operator_pair().public(),
		BoundedVec::truncate_from(b"http://127.0.0.1:8080".to_vec()),
	)
	.unwrap();
	adapter
}

/// A greedy request of adapter `adapter`, any operator.
fn request(adapter: u32, prompt: &str, max_fee: u128) -> ILineage::requestCompletionCall {
	ILineage::requestCompletionCall {
		adapterId: adapter,
		prompt: prompt.into(),
		maxOutputTokens: 16,
		temperatureMilli: 0,
		topPMilli: 1_000,
		seed: 0,
		maxFee: max_fee,
		ttlBlocks: 20,
		operator: Address::ZERO,
	}
}

/// Eve (the operator) claims the open `job` and answers it with `output`, 30 input tokens and
/// 4 output tokens.
fn fulfil(job: u64, output: &str) -> u128 {
	Jobs::claim(RuntimeOrigin::signed(account(Sr25519Keyring::Eve)), job).unwrap();
	let fulfilment = Fulfilment {
		job,
		operator: account(Sr25519Keyring::Eve),
		input_tokens: 30,
		output_tokens: 4,
		response_hash: response_hash(output.as_bytes()),
		output: BoundedVec::truncate_from(output.as_bytes().to_vec()),
		matched: Vec::new(),
	};
	let genesis = System::block_hash(0);
	let signature = operator_pair().sign(&fulfilment_payload(&genesis, &fulfilment));
	Jobs::fulfil(RuntimeOrigin::signed(account(Sr25519Keyring::Ferdie)), fulfilment, signature)
		.unwrap();
	(30 * PER_1K_IN + 4 * PER_1K_OUT) / 1_000
}

/// Deploys EVM bytecode that forwards its call data to the precompile with `opcode` (CALL or
/// STATICCALL) and returns (or reverts with) what the precompile returned. Returns its address.
fn deploy_forwarder(static_call: bool) -> H160 {
	let target = LineagePrecompile::address();
	// CALLDATACOPY(0, 0, calldatasize)
	let mut runtime = vec![0x36, 0x5f, 0x5f, 0x37];
	// retSize 0, retOffset 0, argsSize calldatasize, argsOffset 0, [value 0,] address, gas
	runtime.extend([0x5f, 0x5f, 0x36, 0x5f]);
	if !static_call {
		runtime.push(0x5f);
	}
	runtime.push(0x73);
	runtime.extend(target.0);
	runtime.extend([0x5a, if static_call { 0xfa } else { 0xf1 }]);
	// RETURNDATACOPY(0, 0, returndatasize); JUMPI(ok, success); REVERT(0, rds); ok: RETURN(0, rds)
	runtime.extend([0x3d, 0x5f, 0x5f, 0x3e]);
	let jumpdest = runtime.len() as u8 + 6;
	runtime.extend([0x60, jumpdest, 0x57, 0x3d, 0x5f, 0xfd, 0x5b, 0x3d, 0x5f, 0xf3]);
	// Init code: CODECOPY(0, 10, len); RETURN(0, len).
	let len = runtime.len() as u8;
	let mut code = vec![0x60, len, 0x60, 0x0a, 0x5f, 0x39, 0x60, len, 0x5f, 0xf3];
	code.extend(runtime);
	let result = Revive::bare_instantiate(
		RuntimeOrigin::signed(account(Sr25519Keyring::Alice)),
		U256::zero(),
		TransactionLimits::WeightAndDeposit {
			weight_limit: Weight::from_parts(500_000_000_000, 10 * 1024 * 1024),
			deposit_limit: 100 * UNIT,
		},
		Code::Upload(code),
		vec![],
		None,
		&ExecConfig::new_substrate_tx(),
	);
	let deployed = result.result.expect("the forwarder deploys");
	assert!(!deployed.result.did_revert(), "the forwarder's constructor reverted");
	deployed.addr
}

#[test]
fn the_address_is_the_one_ilineage_sol_declares() {
	let sol = include_str!("../../contracts/ILineage.sol");
	let declared = sol
		.lines()
		.find_map(|l| l.strip_prefix("address constant LINEAGE_PRECOMPILE = "))
		.expect("ILineage.sol declares LINEAGE_PRECOMPILE")
		.trim_end_matches(';');
	assert_eq!(declared, format!("{:?}", LineagePrecompile::address()));
	assert_eq!(declared, "0x000000000000000000000000000000000c000000");
}

#[test]
fn views_read_lineage_price_escrow_and_rewards() {
	common::genesis("development").execute_with(|| {
		let adapter = setup();
		let bob = account(Sr25519Keyring::Bob);
		let lineage = ok(&bob, ILineage::adapterLineageCall { adapterId: adapter });
		assert_eq!(lineage.baseModel, 0);
		assert_eq!(lineage.author, address(&account(Sr25519Keyring::Dave)));
		assert!(!lineage.hasParent);
		assert_eq!(lineage.datanets, vec![0]);
		assert_eq!(lineage.versions, vec![1]);
		assert_eq!(lineage.weightsPpb, vec![1_000_000_000]);
		let price = ok(&bob, ILineage::adapterPriceCall { adapterId: adapter });
		assert_eq!((price.per1kInput, price.per1kOutput), (PER_1K_IN, PER_1K_OUT));

		// Escrow: Bob deposits with the operator through the precompile and reads it back.
		let eve = account(Sr25519Keyring::Eve);
		let before = Balances::free_balance(&bob);
		ok(&bob, ILineage::depositEscrowCall { operator: address(&eve), amount: 3 * UNIT });
		assert_eq!(Usage::escrow_of(&bob, &eve), 3 * UNIT);
		assert_eq!(Balances::free_balance(&bob), before - 3 * UNIT);
		let escrow =
			ok(&bob, ILineage::escrowOfCall { payer: address(&bob), operator: address(&eve) });
		assert_eq!(escrow, 3 * UNIT);
		assert_eq!(ok(&bob, ILineage::pendingRewardsCall { account: address(&bob) }), 0);
	});
}

#[test]
fn a_wallet_requests_an_operator_fulfils_and_the_wallet_takes_the_output() {
	common::genesis("development").execute_with(|| {
		let adapter = setup();
		let ferdie = account(Sr25519Keyring::Ferdie);
		let before = Balances::free_balance(&ferdie);
		let job = ok(&ferdie, request(adapter, "What is 2 + 2?", UNIT));
		assert_eq!(job, 0);
		let status = ok(&ferdie, ILineage::jobStatusCall { jobId: job });
		assert_eq!(status.state, 1);
		assert_eq!(status.requester, address(&ferdie));
		assert_eq!(status.adapterId, adapter);
		let pending = call(&ferdie, ILineage::jobOutputCall { jobId: job }.abi_encode());
		assert_eq!(pending.reason().as_deref(), Some("NotFulfilled"));

		let fee = fulfil(job, "The answer is 4.");
		let status = ok(&ferdie, ILineage::jobStatusCall { jobId: job });
		assert_eq!((status.state, status.inputTokens, status.outputTokens), (2, 30, 4));
		assert_eq!(status.fee, fee);
		// Anyone may read the output; only the requester may take it.
		let bob = account(Sr25519Keyring::Bob);
		assert_eq!(ok(&bob, ILineage::jobOutputCall { jobId: job }), "The answer is 4.");
		let stolen = call(&bob, ILineage::takeOutputCall { jobId: job }.abi_encode());
		assert_eq!(stolen.reason().as_deref(), Some("NotRequester"));
		assert_eq!(ok(&ferdie, ILineage::takeOutputCall { jobId: job }), "The answer is 4.");
		assert_eq!(ok(&ferdie, ILineage::jobStatusCall { jobId: job }).state, 0);
		// Ferdie paid exactly the fee; its deposit came back.
		assert_eq!(Balances::free_balance(&ferdie), before - fee);

		// The fee went through attribution's split: the author's share is claimable.
		let shares = pallet_attribution::Pallet::<Runtime>::policy().split(fee);
		let dave = account(Sr25519Keyring::Dave);
		assert_eq!(
			ok(&bob, ILineage::pendingRewardsCall { account: address(&dave) }),
			shares.author
		);
		let charlie = account(Sr25519Keyring::Charlie);
		assert_eq!(
			ok(&bob, ILineage::pendingRewardsCall { account: address(&charlie) }),
			shares.base_owner
		);
	});
}

#[test]
fn a_contract_requests_with_its_own_balance_and_only_it_takes_the_output() {
	common::genesis("development").execute_with(|| {
		let adapter = setup();
		let forwarder = deploy_forwarder(false);
		let contract: AccountId32 = Mapper::to_account_id(&forwarder);
		Balances::set_balance(&contract, 10 * UNIT);
		let alice = account(Sr25519Keyring::Alice);
		let forward = |data: Vec<u8>| call_with_value(&alice, forwarder, data, U256::zero());

		let out = forward(request(adapter, "Name a primary colour.", UNIT).abi_encode());
		assert!(!out.reverted, "{:?}", out.reason());
		let job = ILineage::requestCompletionCall::abi_decode_returns(&out.data).unwrap();
		let stored = pallet_jobs::Jobs::<Runtime>::get(job).unwrap();
		assert_eq!(stored.requester, contract, "the calling contract is the requester");
		assert_eq!(Balances::free_balance(&contract), 10 * UNIT - UNIT - stored.deposit);

		let fee = fulfil(job, "Red.");
		// Alice's wallet is not the requester; the contract is.
		let direct = call(&alice, ILineage::takeOutputCall { jobId: job }.abi_encode());
		assert_eq!(direct.reason().as_deref(), Some("NotRequester"));
		let out = forward(ILineage::takeOutputCall { jobId: job }.abi_encode());
		assert!(!out.reverted, "{:?}", out.reason());
		assert_eq!(ILineage::takeOutputCall::abi_decode_returns(&out.data).unwrap(), "Red.");
		assert_eq!(Balances::free_balance(&contract), 10 * UNIT - fee);
	});
}

#[test]
fn writes_are_refused_in_static_calls_and_views_still_answer() {
	common::genesis("development").execute_with(|| {
		let adapter = setup();
		let forwarder = deploy_forwarder(true);
		let contract: AccountId32 = Mapper::to_account_id(&forwarder);
		Balances::set_balance(&contract, 10 * UNIT);
		let alice = account(Sr25519Keyring::Alice);
		let forward = |data: Vec<u8>| call_with_value(&alice, forwarder, data, U256::zero());

		let refused = forward(request(adapter, "What is 2 + 2?", UNIT).abi_encode());
		assert_eq!(refused.reason().as_deref(), Some("state change refused in a static call"));
		assert_eq!(pallet_jobs::NextJobId::<Runtime>::get(), 0);
		let refused = forward(
			ILineage::depositEscrowCall {
				operator: address(&account(Sr25519Keyring::Eve)),
				amount: UNIT,
			}
			.abi_encode(),
		);
		assert_eq!(refused.reason().as_deref(), Some("state change refused in a static call"));

		let out = forward(ILineage::adapterPriceCall { adapterId: adapter }.abi_encode());
		assert!(!out.reverted);
		let price = ILineage::adapterPriceCall::abi_decode_returns(&out.data).unwrap();
		assert_eq!(price.per1kOutput, PER_1K_OUT);
	});
}

#[test]
fn bad_input_reverts_with_a_reason_and_changes_nothing() {
	common::genesis("development").execute_with(|| {
		let adapter = setup();
		let bob = account(Sr25519Keyring::Bob);
		let reason = |data: Vec<u8>| call(&bob, data).reason();
		assert_eq!(reason(request(99, "hi", UNIT).abi_encode()).as_deref(), Some("UnknownAdapter"));
		assert_eq!(reason(request(adapter, "", UNIT).abi_encode()).as_deref(), Some("EmptyPrompt"));
		assert_eq!(
			reason(request(adapter, "hi", 1).abi_encode()).as_deref(),
			Some("FeeCeilingTooLow")
		);
		let long = "x".repeat(5_000);
		assert_eq!(
			reason(request(adapter, &long, UNIT).abi_encode()).as_deref(),
			Some("PromptTooLong")
		);
		let mut no_ttl = request(adapter, "hi", UNIT);
		no_ttl.ttlBlocks = 0;
		assert_eq!(reason(no_ttl.abi_encode()).as_deref(), Some("BadTtl"));
		let poor = request(adapter, "hi", 1_000_000_000 * UNIT);
		assert_eq!(reason(poor.abi_encode()).as_deref(), Some("InsufficientBalance"));
		assert_eq!(
			reason(ILineage::jobOutputCall { jobId: 7 }.abi_encode()).as_deref(),
			Some("UnknownJob")
		);
		assert_eq!(
			reason(ILineage::adapterLineageCall { adapterId: 99 }.abi_encode()).as_deref(),
			Some("UnknownAdapter")
		);
		// Value sent along is refused (EVM units: 10^8 per smallest LIN unit).
		let paid = call_with_value(
			&bob,
			LineagePrecompile::address(),
			ILineage::adapterPriceCall { adapterId: adapter }.abi_encode(),
			U256::from(100_000_000u64),
		);
		assert!(paid.reason().unwrap().contains("not payable"));
		// Input that does not decode: Panic(0x41) from pallet-revive, before the precompile runs.
		for garbage in [vec![0xde, 0xad, 0xbe, 0xef], vec![1, 2], {
			let mut cut = request(adapter, "hi", UNIT).abi_encode();
			cut.truncate(40);
			cut
		}] {
			let out = call(&bob, garbage);
			assert!(out.reverted);
			let panic =
				polkadot_sdk::pallet_revive::precompiles::alloy::sol_types::Panic::abi_decode(
					&out.data,
				)
				.expect("a Panic(uint256) revert");
			assert_eq!(
				panic.code,
				polkadot_sdk::pallet_revive::precompiles::alloy::primitives::U256::from(0x41)
			);
		}
		assert_eq!(pallet_jobs::NextJobId::<Runtime>::get(), 0);
		assert_eq!(pallet_usage::Escrows::<Runtime>::iter().count(), 0);
	});
}

#[test]
fn each_call_is_charged_its_weight_before_it_works() {
	common::genesis("development").execute_with(|| {
		let adapter = setup();
		let ferdie = account(Sr25519Keyring::Ferdie);
		let eve = account(Sr25519Keyring::Eve);
		let prompt = "What is 2 + 2?";
		let mut rows: Vec<(&str, Weight)> = Vec::new();

		let out = call(&ferdie, request(adapter, prompt, UNIT).abi_encode());
		assert!(!out.reverted);
		assert_eq!(
			out.weight,
			JobsWeights::request(prompt.len() as u32),
			"request is charged its benchmark"
		);
		rows.push(("requestCompletion (14-byte prompt)", out.weight));
		// A refused request is charged too: the work was done before the refusal.
		let refused = call(&ferdie, request(99, prompt, UNIT).abi_encode());
		assert!(refused.reverted);
		assert_eq!(refused.weight, out.weight);
		rows.push(("requestCompletion (refused)", refused.weight));

		let job = 0;
		rows.push((
			"jobStatus",
			call(&ferdie, ILineage::jobStatusCall { jobId: job }.abi_encode()).weight,
		));
		fulfil(job, "4");
		rows.push((
			"jobOutput",
			call(&ferdie, ILineage::jobOutputCall { jobId: job }.abi_encode()).weight,
		));
		let take = call(&ferdie, ILineage::takeOutputCall { jobId: job }.abi_encode());
		assert_eq!(take.weight, JobsWeights::take_output());
		rows.push(("takeOutput", take.weight));
		let deposit = call(
			&ferdie,
			ILineage::depositEscrowCall { operator: address(&eve), amount: UNIT }.abi_encode(),
		);
		assert_eq!(
			deposit.weight,
			<<Runtime as pallet_usage::Config>::WeightInfo as pallet_usage::WeightInfo>::deposit_escrow()
		);
		rows.push(("depositEscrow", deposit.weight));
		rows.push((
			"escrowOf",
			call(
				&ferdie,
				ILineage::escrowOfCall { payer: address(&ferdie), operator: address(&eve) }
					.abi_encode(),
			)
			.weight,
		));
		rows.push((
			"adapterLineage",
			call(&ferdie, ILineage::adapterLineageCall { adapterId: adapter }.abi_encode()).weight,
		));
		rows.push((
			"adapterPrice",
			call(&ferdie, ILineage::adapterPriceCall { adapterId: adapter }.abi_encode()).weight,
		));
		rows.push((
			"pendingRewards (1 datanet)",
			call(
				&ferdie,
				ILineage::pendingRewardsCall { account: address(&account(Sr25519Keyring::Bob)) }
					.abi_encode(),
			)
			.weight,
		));

		let block = <Runtime as polkadot_sdk::frame_system::Config>::BlockWeights::get().max_block;
		println!("| call | ref time (µs) | proof (bytes) | share of a block's ref time |");
		println!("|---|---|---|---|");
		for (name, weight) in &rows {
			assert!(weight.ref_time() > 0 && weight.proof_size() > 0, "{name} is charged nothing");
			println!(
				"| {name} | {:.1} | {} | {:.4}% |",
				weight.ref_time() as f64 / 1e6,
				weight.proof_size(),
				100.0 * weight.ref_time() as f64 / block.ref_time() as f64
			);
		}
	});
}

/// A fuzz of the precompile's ABI input: random bytes, every selector with random arguments,
/// valid calls with bytes flipped, cut short, or a word replaced by an extreme (offsets and
/// lengths of the dynamic `string` included). Each case runs in a storage transaction that is
/// rolled back, from the same state. Every call must end as a revert or a success (never a
/// trap of the runtime, never a Rust panic, which proptest would report with the input); a
/// revert must leave the state root as it was. Run with `--nocapture` for the counts.
#[test]
fn any_abi_input_reverts_or_answers_and_never_panics() {
	use polkadot_sdk::{
		frame_support::storage::{with_transaction, TransactionOutcome},
		sp_runtime::{DispatchError, StateVersion},
	};
	use proptest::{
		prelude::*,
		test_runner::{Config, TestRunner},
	};

	const CASES: u32 = 3_000;
	common::genesis("development").execute_with(|| {
		let adapter = setup();
		let bob = account(Sr25519Keyring::Bob);
		let eve = address(&account(Sr25519Keyring::Eve));
		// A job to read and take, so the job calls reach past `UnknownJob` too.
		ok(&bob, request(adapter, "hi", UNIT));
		let valid: Vec<Vec<u8>> = vec![
			request(adapter, "hello", UNIT).abi_encode(),
			ILineage::jobStatusCall { jobId: 0 }.abi_encode(),
			ILineage::jobOutputCall { jobId: 0 }.abi_encode(),
			ILineage::takeOutputCall { jobId: 0 }.abi_encode(),
			ILineage::depositEscrowCall { operator: eve, amount: UNIT }.abi_encode(),
			ILineage::escrowOfCall { payer: address(&bob), operator: eve }.abi_encode(),
			ILineage::adapterLineageCall { adapterId: adapter }.abi_encode(),
			ILineage::adapterPriceCall { adapterId: adapter }.abi_encode(),
			ILineage::pendingRewardsCall { account: address(&bob) }.abi_encode(),
		];
		let selectors: Vec<[u8; 4]> = valid.iter().map(|v| [v[0], v[1], v[2], v[3]]).collect();
		let extremes: Vec<[u8; 32]> = vec![
			[0xff; 32],
			{
				let mut w = [0u8; 32];
				w[24..].copy_from_slice(&u64::MAX.to_be_bytes());
				w
			},
			{
				let mut w = [0u8; 32];
				w[28..].copy_from_slice(&u32::MAX.to_be_bytes());
				w
			},
			{
				let mut w = [0u8; 32];
				w[31] = 0x20;
				w
			},
			[0; 32],
			{
				let mut w = [0u8; 32];
				w[0] = 0x80;
				w
			},
		];
		let random = prop::collection::vec(any::<u8>(), 0..600).prop_map(|b| ("random bytes", b));
		let v = valid.clone();
		let selector =
			(prop::sample::select(selectors), prop::collection::vec(any::<u8>(), 0..400)).prop_map(
				|(s, tail)| ("a selector and random arguments", [s.to_vec(), tail].concat()),
			);
		let flipped = (
			prop::sample::select(v.clone()),
			prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
		)
			.prop_map(|(mut call, flips)| {
				for (at, byte) in flips {
					let i = 4 + at.index(call.len() - 4);
					call[i] ^= byte | 1;
				}
				("a valid call with bytes flipped", call)
			});
		let cut = (prop::sample::select(v.clone()), any::<prop::sample::Index>()).prop_map(
			|(call, at)| ("a valid call cut short", call[..at.index(call.len())].to_vec()),
		);
		let word =
			(prop::sample::select(v), any::<prop::sample::Index>(), prop::sample::select(extremes))
				.prop_map(|(mut call, at, w)| {
					let words = (call.len() - 4) / 32;
					if words > 0 {
						let i = 4 + 32 * at.index(words);
						call[i..i + 32].copy_from_slice(&w);
					}
					("a valid call with a word at an extreme", call)
				});
		let strategy = prop_oneof![1 => random, 2 => selector, 2 => flipped, 1 => cut, 2 => word];

		let tally = std::cell::RefCell::new(std::collections::BTreeMap::<&str, (u32, u32)>::new());
		let mut runner = TestRunner::new(Config {
			cases: CASES,
			failure_persistence: None,
			..Config::default()
		});
		let result = runner.run(&strategy, |(what, data)| {
			let outcome = with_transaction(|| {
				let before = polkadot_sdk::sp_io::storage::root(StateVersion::V1);
				let result = Revive::bare_call(
					RuntimeOrigin::signed(bob.clone()),
					LineagePrecompile::address(),
					U256::zero(),
					TransactionLimits::WeightAndDeposit {
						weight_limit: Weight::from_parts(500_000_000_000, 10 * 1024 * 1024),
						deposit_limit: 100 * UNIT,
					},
					data.clone(),
					&ExecConfig::new_substrate_tx(),
				);
				let after = polkadot_sdk::sp_io::storage::root(StateVersion::V1);
				TransactionOutcome::Rollback(Ok::<_, DispatchError>((
					result.result.map(|r| r.did_revert()),
					before == after,
				)))
			});
			let (reverted, unchanged) = outcome.expect("the transaction closure never fails");
			let reverted = reverted.map_err(|e| {
				TestCaseError::fail(format!("{what}: the call trapped ({e:?}) on {data:02x?}"))
			})?;
			prop_assert!(!reverted || unchanged, "{what}: a revert changed the state: {data:02x?}");
			let mut t = tally.borrow_mut();
			let entry = t.entry(what).or_default();
			if reverted {
				entry.0 += 1;
			} else {
				entry.1 += 1;
			}
			Ok(())
		});
		if let Err(e) = result {
			panic!("{e}");
		}
		let t = tally.into_inner();
		let (reverted, answered) = t.values().fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
		println!(
			"precompile ABI fuzz: {} inputs, {reverted} reverted, {answered} succeeded",
			reverted + answered
		);
		for (what, (r, s)) in &t {
			println!("  {what}: {r} reverted, {s} succeeded");
		}
		assert!(reverted + answered >= CASES);
		assert!(reverted > answered, "most fuzzed inputs are malformed, yet most succeeded: {t:?}");
		// The state the cases started from is untouched.
		assert_eq!(pallet_jobs::NextJobId::<Runtime>::get(), 1);
	});
}
