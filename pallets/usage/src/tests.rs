//! Unit tests on the mock runtime.

use crate::{
	mock::{Usage, *},
	Event, *,
};
use lineage_primitives::usage::{signing_payload, usage_fee};
use polkadot_sdk::{
	frame_support::{
		assert_noop, assert_ok,
		dispatch::GetDispatchInfo,
		traits::{
			fungible::{InspectHold, Mutate},
			Hooks,
		},
		BoundedVec,
	},
	sp_core::{sr25519, Pair},
	sp_runtime::{testing::TestSignature, traits::BadOrigin, DispatchResult, Perbill, TokenError},
};
use std::collections::BTreeMap;

type Error = crate::Error<Test>;

// ---- helpers ----

fn key(seed: &str) -> sr25519::Pair {
	sr25519::Pair::from_string(seed, None).expect("a valid seed")
}

/// The key `OP` registers with.
fn op_key() -> sr25519::Pair {
	key("//Op")
}

fn endpoint(url: &str) -> EndpointOf<Test> {
	BoundedVec::try_from(url.as_bytes().to_vec()).expect("fits MaxEndpointLength")
}

fn signed(who: u64) -> RuntimeOrigin {
	RuntimeOrigin::signed(who)
}

fn held(who: u64) -> u128 {
	Balances::balance_on_hold(&RuntimeHoldReason::Usage(HoldReason::OperatorBond), &who)
}

fn deposit_held(who: u64) -> u128 {
	Balances::balance_on_hold(&RuntimeHoldReason::Usage(HoldReason::DisputeDeposit), &who)
}

fn pot() -> u64 {
	Usage::pot_account()
}

fn free(who: u64) -> u128 {
	Balances::free_balance(who)
}

fn entry(
	payer: u64,
	adapter: AdapterId,
	requests: u32,
	input: u64,
	output: u64,
) -> UsageEntry<u64> {
	UsageEntry { payer, adapter, requests, input_tokens: input, output_tokens: output }
}

fn batch(operator: u64, sequence: Sequence, entries: Vec<UsageEntry<u64>>) -> UsageBatch<u64> {
	let now = System::block_number();
	UsageBatch {
		operator,
		sequence,
		served_from: now,
		served_to: now,
		entries,
		records_root: H256::repeat_byte(7),
		matched: Vec::new(),
	}
}

/// `pair`'s signature over `batch` on this chain.
fn sign(pair: &sr25519::Pair, batch: &UsageBatch<u64>) -> sr25519::Signature {
	pair.sign(&signing_payload(&System::block_hash(0), batch))
}

/// A signature that cannot be valid: for calls that must fail before the signature is checked.
fn junk() -> sr25519::Signature {
	sr25519::Signature::from_raw([0; 64])
}

/// The voucher `payer` signs for `operator` on this chain, with spend limit `limit`.
fn voucher(payer: u64, operator: u64, limit: u128) -> PayerVoucherOf<Test> {
	let mut v = PayerVoucher {
		payer,
		timestamp_ms: 1_750_000_000_000,
		nonce: 1,
		spend_limit: limit,
		target_sha256: lineage_primitives::payer::target_sha256("POST", "/v1/completions"),
		body_sha256: [1; 32],
		wrapped: false,
		signature: TestSignature(payer, Vec::new()),
	};
	v.signature = TestSignature(payer, v.authorization(System::block_hash(0), operator).message());
	v
}

/// One voucher per distinct payer of `batch`, each with spend limit `limit`.
fn vouchers(batch: &UsageBatch<u64>, limit: u128) -> VouchersOf<Test> {
	let mut payers: Vec<u64> = batch.entries.iter().map(|e| e.payer).collect();
	payers.dedup();
	let vouchers: Vec<_> = payers.into_iter().map(|p| voucher(p, batch.operator, limit)).collect();
	BoundedVec::truncate_from(vouchers)
}

/// Submits `batch` from `origin` with `signature`, and a voucher with no practical limit from
/// each payer.
fn submit_raw(
	origin: RuntimeOrigin,
	batch: UsageBatch<u64>,
	signature: sr25519::Signature,
) -> DispatchResult {
	let vouchers = vouchers(&batch, u128::MAX);
	Usage::submit_usage(origin, batch, signature, vouchers)
}

/// Submits `batch` through the relayer, signed by `pair`.
fn submit_signed(batch: &UsageBatch<u64>, pair: &sr25519::Pair) -> DispatchResult {
	submit_raw(signed(RELAYER), batch.clone(), sign(pair, batch))
}

/// Submits `batch` through the relayer, signed by `OP`'s key.
fn submit(batch: &UsageBatch<u64>) -> DispatchResult {
	submit_signed(batch, &op_key())
}

fn register(operator: u64, pair: &sr25519::Pair) {
	assert_ok!(Usage::register_operator(
		signed(operator),
		pair.public(),
		endpoint("https://op.example")
	));
}

fn deposit(payer: u64, operator: u64, amount: u128) {
	assert_ok!(Usage::deposit_escrow(signed(payer), operator, amount));
}

/// The escrow each payer deposits in [`setup`].
const ESCROW: u128 = 10_000;

/// Adapters 1 (10 and 20 per 1k tokens) and 2 (4 and 6), `OP` registered with `//Op`, and
/// [`ESCROW`] from Alice and Bob with it.
fn setup() {
	MockAdapters::add(1, 10, 20);
	MockAdapters::add(2, 4, 6);
	register(OP, &op_key());
	deposit(ALICE, OP, ESCROW);
	deposit(BOB, OP, ESCROW);
}

/// A batch of `OP`'s with three entries: Alice on adapters 1 (fee 20) and 2 (fee 14), Bob on
/// adapter 1 (fee 30). 64 in all: 50 for adapter 1, 14 for adapter 2.
fn three(sequence: Sequence) -> UsageBatch<u64> {
	batch(
		OP,
		sequence,
		vec![
			entry(ALICE, 1, 2, 1_000, 500),
			entry(ALICE, 2, 1, 2_000, 1_000),
			entry(BOB, 1, 1, 3_000, 0),
		],
	)
}

/// [`setup`], then [`three`] accepted as `OP`'s batch 0 at block 1.
fn setup_with_batch() {
	setup();
	assert_ok!(submit(&three(0)));
}

/// Moves past the dispute window of a batch submitted at block 1.
fn past_window() {
	run_to_block(1 + WINDOW);
}

// ---- genesis, config ----

#[test]
fn genesis_endows_pot_works() {
	build_and_execute(|| {
		assert_eq!(free(pot()), ED);
		// Balances' provider and the pallet's.
		assert_eq!(System::providers(&pot()), 2);
	});
}

#[test]
fn integrity_test_works() {
	build_and_execute(|| {
		<Usage as Hooks<u32>>::integrity_test();
	});
}

#[test]
fn try_state_detects_unbacked_escrow_works() {
	new_test_ext().execute_with(|| {
		setup();
		assert_ok!(Usage::do_try_state());
		Escrows::<Test>::insert(CAROL, OP, EscrowInfo { balance: 1, withdrawal: None });
		assert!(Usage::do_try_state().is_err());
	});
}

// ---- register_operator ----

#[test]
fn register_operator_works() {
	build_and_execute(|| {
		run_to_block(3);
		let pair = op_key();
		assert_ok!(Usage::register_operator(
			signed(OP),
			pair.public(),
			endpoint("https://op.example")
		));
		System::assert_has_event(
			Event::OperatorRegistered {
				operator: OP,
				signing_key: pair.public(),
				endpoint: endpoint("https://op.example"),
				bond: BOND,
			}
			.into(),
		);
		let info = Usage::operator(&OP).expect("registered");
		assert_eq!(info.signing_key, pair.public());
		assert_eq!(info.endpoint.as_slice(), b"https://op.example");
		assert_eq!(info.bond, BOND);
		assert_eq!(info.status, OperatorStatus::Active);
		assert_eq!(info.open_batches, 0);
		assert_eq!(info.registered_at, 3);
		assert_eq!(OperatorKeys::<Test>::get(pair.public()), Some(OP));
		assert_eq!(Usage::next_sequence(&OP), 0);
		assert_eq!(held(OP), BOND);
		assert_eq!(free(OP), BALANCE - BOND);
	});
}

#[test]
fn register_operator_already_operator_fails() {
	build_and_execute(|| {
		register(OP, &op_key());
		assert_noop!(
			Usage::register_operator(signed(OP), key("//Other").public(), endpoint("x")),
			Error::AlreadyOperator
		);
	});
}

#[test]
fn register_operator_key_in_use_fails() {
	build_and_execute(|| {
		register(OP, &op_key());
		assert_noop!(
			Usage::register_operator(signed(OP2), op_key().public(), endpoint("x")),
			Error::KeyInUse
		);
	});
}

#[test]
fn register_operator_without_bond_fails() {
	build_and_execute(|| {
		assert_noop!(
			Usage::register_operator(signed(DAVE), op_key().public(), endpoint("x")),
			TokenError::FundsUnavailable
		);
	});
}

#[test]
fn register_operator_unsigned_fails() {
	build_and_execute(|| {
		assert_noop!(
			Usage::register_operator(RuntimeOrigin::root(), op_key().public(), endpoint("x")),
			BadOrigin
		);
	});
}

// ---- rotate_key ----

#[test]
fn rotate_key_works() {
	build_and_execute(|| {
		setup();
		let new = key("//OpNext");
		assert_ok!(Usage::rotate_key(signed(OP), new.public()));
		System::assert_has_event(
			Event::SigningKeyRotated {
				operator: OP,
				old_key: op_key().public(),
				new_key: new.public(),
			}
			.into(),
		);
		assert_eq!(OperatorKeys::<Test>::get(op_key().public()), None);
		assert_eq!(OperatorKeys::<Test>::get(new.public()), Some(OP));
		// The old key's signatures fail from now on; the new key's pass.
		assert_noop!(submit_signed(&three(0), &op_key()), Error::BadSignature);
		assert_ok!(submit_signed(&three(0), &new));
		// The old key is free for another operator.
		register(OP2, &op_key());
	});
}

#[test]
fn rotate_key_not_operator_fails() {
	build_and_execute(|| {
		assert_noop!(Usage::rotate_key(signed(OP), op_key().public()), Error::NotOperator);
	});
}

#[test]
fn rotate_key_key_in_use_fails() {
	build_and_execute(|| {
		register(OP, &op_key());
		register(OP2, &key("//Op2"));
		assert_noop!(Usage::rotate_key(signed(OP), key("//Op2").public()), Error::KeyInUse);
		assert_noop!(Usage::rotate_key(signed(OP), op_key().public()), Error::KeyInUse);
	});
}

// ---- set_endpoint ----

#[test]
fn set_endpoint_works() {
	build_and_execute(|| {
		register(OP, &op_key());
		assert_ok!(Usage::set_endpoint(signed(OP), endpoint("https://new.example")));
		System::assert_has_event(
			Event::EndpointSet { operator: OP, endpoint: endpoint("https://new.example") }.into(),
		);
		assert_eq!(
			Usage::operator(&OP).expect("registered").endpoint.as_slice(),
			b"https://new.example"
		);
	});
}

#[test]
fn set_endpoint_not_operator_fails() {
	build_and_execute(|| {
		assert_noop!(Usage::set_endpoint(signed(OP), endpoint("x")), Error::NotOperator);
	});
}

// ---- bond_extra ----

#[test]
fn bond_extra_works() {
	build_and_execute(|| {
		register(OP, &op_key());
		assert_ok!(Usage::bond_extra(signed(OP), 250));
		System::assert_has_event(
			Event::BondIncreased { operator: OP, amount: 250, bond: BOND + 250 }.into(),
		);
		assert_eq!(Usage::operator(&OP).expect("registered").bond, BOND + 250);
		assert_eq!(held(OP), BOND + 250);
	});
}

#[test]
fn bond_extra_zero_fails() {
	build_and_execute(|| {
		register(OP, &op_key());
		assert_noop!(Usage::bond_extra(signed(OP), 0), Error::ZeroAmount);
	});
}

#[test]
fn bond_extra_not_operator_fails() {
	build_and_execute(|| {
		assert_noop!(Usage::bond_extra(signed(OP), 5), Error::NotOperator);
	});
}

#[test]
fn bond_extra_without_funds_fails() {
	build_and_execute(|| {
		register(OP, &op_key());
		assert_noop!(Usage::bond_extra(signed(OP), BALANCE), TokenError::FundsUnavailable);
	});
}

// ---- leave ----

#[test]
fn leave_works() {
	build_and_execute(|| {
		setup();
		run_to_block(4);
		assert_ok!(Usage::leave(signed(OP)));
		System::assert_has_event(
			Event::OperatorLeft { operator: OP, unbonds_at: 4 + UNBONDING }.into(),
		);
		assert_eq!(
			Usage::operator(&OP).expect("registered").status,
			OperatorStatus::Leaving { since: 4 }
		);
		// Its new batches and new escrow are refused.
		assert_noop!(submit(&three(0)), Error::OperatorNotActive);
		assert_noop!(Usage::deposit_escrow(signed(CAROL), OP, 100), Error::OperatorNotActive);
		// Payers still take their escrow back.
		assert_ok!(Usage::request_withdrawal(signed(ALICE), OP, ESCROW));
		run_to_block(4 + NOTICE);
		assert_ok!(Usage::withdraw_escrow(signed(ALICE), OP));
		assert_eq!(free(ALICE), BALANCE);
	});
}

#[test]
fn leave_twice_fails() {
	build_and_execute(|| {
		register(OP, &op_key());
		assert_ok!(Usage::leave(signed(OP)));
		assert_noop!(Usage::leave(signed(OP)), Error::OperatorNotActive);
	});
}

#[test]
fn leave_not_operator_fails() {
	build_and_execute(|| {
		assert_noop!(Usage::leave(signed(OP)), Error::NotOperator);
	});
}

// ---- withdraw_bond ----

#[test]
fn withdraw_bond_works() {
	build_and_execute(|| {
		setup_with_batch();
		past_window();
		assert_ok!(Usage::settle_batch(signed(RELAYER), OP, 0));
		assert_ok!(Usage::leave(signed(OP)));
		run_to_block(1 + WINDOW + UNBONDING);
		assert_ok!(Usage::withdraw_bond(signed(OP)));
		System::assert_has_event(Event::OperatorRemoved { operator: OP, released: BOND }.into());
		assert_eq!(held(OP), 0);
		assert_eq!(free(OP), BALANCE);
		assert!(Usage::operator(&OP).is_none());
		assert_eq!(OperatorKeys::<Test>::get(op_key().public()), None);
		// Its sequence number stays.
		assert_eq!(Usage::next_sequence(&OP), 1);
		// A deregistered operator's proofs are refused.
		assert_noop!(submit(&three(1)), Error::NotOperator);
		// Its payers still take their escrow back.
		assert_ok!(Usage::request_withdrawal(signed(BOB), OP, ESCROW - 30));
		run_to_block(1 + WINDOW + UNBONDING + NOTICE);
		assert_ok!(Usage::withdraw_escrow(signed(BOB), OP));
		assert_eq!(free(BOB), BALANCE - 30);
		// Registered again with the same key, its old batch cannot be replayed.
		register(OP, &op_key());
		assert_noop!(submit(&three(0)), Error::SequenceMismatch);
		deposit(BOB, OP, ESCROW);
		assert_ok!(submit(&three(1)));
	});
}

#[test]
fn withdraw_bond_with_open_batches_fails() {
	build_and_execute(|| {
		setup_with_batch();
		assert_ok!(Usage::dispute(signed(BOB), OP, 0, 2));
		assert_ok!(Usage::leave(signed(OP)));
		run_to_block(1 + UNBONDING);
		// The batch is not settled.
		assert_noop!(Usage::withdraw_bond(signed(OP)), Error::OpenBatches);
		// Settled, but a dispute is open.
		assert_ok!(Usage::settle_batch(signed(RELAYER), OP, 0));
		assert_noop!(Usage::withdraw_bond(signed(OP)), Error::OpenBatches);
		assert_ok!(Usage::resolve_dispute(RuntimeOrigin::root(), OP, 0, 2, false));
		assert_ok!(Usage::withdraw_bond(signed(OP)));
	});
}

#[test]
fn withdraw_bond_still_unbonding_fails() {
	build_and_execute(|| {
		register(OP, &op_key());
		assert_ok!(Usage::leave(signed(OP)));
		run_to_block(UNBONDING);
		assert_noop!(Usage::withdraw_bond(signed(OP)), Error::StillUnbonding);
		run_to_block(1 + UNBONDING);
		assert_ok!(Usage::withdraw_bond(signed(OP)));
	});
}

#[test]
fn withdraw_bond_not_leaving_fails() {
	build_and_execute(|| {
		register(OP, &op_key());
		run_to_block(1 + UNBONDING);
		assert_noop!(Usage::withdraw_bond(signed(OP)), Error::NotLeaving);
	});
}

#[test]
fn withdraw_bond_not_operator_fails() {
	build_and_execute(|| {
		assert_noop!(Usage::withdraw_bond(signed(OP)), Error::NotOperator);
	});
}

// ---- deposit_escrow ----

#[test]
fn deposit_escrow_works() {
	build_and_execute(|| {
		register(OP, &op_key());
		assert_ok!(Usage::deposit_escrow(signed(ALICE), OP, 500));
		System::assert_has_event(
			Event::EscrowDeposited { payer: ALICE, operator: OP, amount: 500, balance: 500 }.into(),
		);
		assert_eq!(Usage::escrow_of(&ALICE, &OP), 500);
		assert_eq!(free(ALICE), BALANCE - 500);
		assert_eq!(free(pot()), ED + 500);
		// Below the existential deposit too.
		assert_ok!(Usage::deposit_escrow(signed(ALICE), OP, ED - 1));
		assert_eq!(Usage::escrow_of(&ALICE, &OP), 500 + ED - 1);
		assert_eq!(free(pot()), ED + 500 + ED - 1);
		// Escrow is per (payer, operator).
		assert_eq!(Usage::escrow_of(&ALICE, &OP2), 0);
		assert_eq!(Usage::escrow_of(&BOB, &OP), 0);
	});
}

#[test]
fn deposit_escrow_zero_fails() {
	build_and_execute(|| {
		register(OP, &op_key());
		assert_noop!(Usage::deposit_escrow(signed(ALICE), OP, 0), Error::ZeroAmount);
	});
}

#[test]
fn deposit_escrow_not_operator_fails() {
	build_and_execute(|| {
		assert_noop!(Usage::deposit_escrow(signed(ALICE), OP, 10), Error::NotOperator);
	});
}

#[test]
fn deposit_escrow_without_funds_fails() {
	build_and_execute(|| {
		register(OP, &op_key());
		assert_noop!(Usage::deposit_escrow(signed(DAVE), OP, 100), TokenError::FundsUnavailable);
	});
}

// ---- request_withdrawal ----

#[test]
fn request_withdrawal_works() {
	build_and_execute(|| {
		setup();
		assert_ok!(Usage::request_withdrawal(signed(ALICE), OP, 4_000));
		System::assert_has_event(
			Event::WithdrawalRequested {
				payer: ALICE,
				operator: OP,
				amount: 4_000,
				unlocks_at: 1 + NOTICE,
			}
			.into(),
		);
		assert_eq!(
			Escrows::<Test>::get(ALICE, OP).and_then(|e| e.withdrawal),
			Some((4_000, 1 + NOTICE))
		);
		// A new request replaces the previous one, with a new notice.
		run_to_block(3);
		assert_ok!(Usage::request_withdrawal(signed(ALICE), OP, 6_000));
		assert_eq!(
			Escrows::<Test>::get(ALICE, OP).and_then(|e| e.withdrawal),
			Some((6_000, 3 + NOTICE))
		);
		// Nothing moves yet.
		assert_eq!(Usage::escrow_of(&ALICE, &OP), ESCROW);
	});
}

#[test]
fn request_withdrawal_zero_fails() {
	build_and_execute(|| {
		setup();
		assert_noop!(Usage::request_withdrawal(signed(ALICE), OP, 0), Error::ZeroAmount);
	});
}

#[test]
fn request_withdrawal_no_escrow_fails() {
	build_and_execute(|| {
		setup();
		assert_noop!(Usage::request_withdrawal(signed(CAROL), OP, 1), Error::NoEscrow);
	});
}

#[test]
fn request_withdrawal_above_escrow_fails() {
	build_and_execute(|| {
		setup();
		assert_noop!(
			Usage::request_withdrawal(signed(ALICE), OP, ESCROW + 1),
			Error::InsufficientEscrow
		);
	});
}

// ---- withdraw_escrow ----

#[test]
fn withdraw_escrow_works() {
	build_and_execute(|| {
		setup();
		assert_ok!(Usage::request_withdrawal(signed(ALICE), OP, 6_000));
		// The operator still charges during the notice (34 to Alice).
		assert_ok!(submit(&three(0)));
		run_to_block(1 + NOTICE);
		let pot_before = free(pot());
		assert_ok!(Usage::withdraw_escrow(signed(ALICE), OP));
		System::assert_has_event(
			Event::EscrowWithdrawn { payer: ALICE, operator: OP, amount: 6_000 }.into(),
		);
		assert_eq!(Usage::escrow_of(&ALICE, &OP), ESCROW - 34 - 6_000);
		assert_eq!(Escrows::<Test>::get(ALICE, OP).and_then(|e| e.withdrawal), None);
		assert_eq!(free(ALICE), BALANCE - ESCROW + 6_000);
		assert_eq!(free(pot()), pot_before - 6_000);
		// The rest, and the entry is gone.
		assert_ok!(Usage::request_withdrawal(signed(ALICE), OP, ESCROW - 34 - 6_000));
		run_to_block(1 + 2 * NOTICE);
		assert_ok!(Usage::withdraw_escrow(signed(ALICE), OP));
		assert!(Escrows::<Test>::get(ALICE, OP).is_none());
		assert_eq!(free(ALICE), BALANCE - 34);
	});
}

#[test]
fn withdraw_escrow_pays_what_is_left_works() {
	build_and_execute(|| {
		setup();
		assert_ok!(Usage::request_withdrawal(signed(ALICE), OP, ESCROW));
		assert_ok!(submit(&three(0)));
		run_to_block(1 + NOTICE);
		assert_ok!(Usage::withdraw_escrow(signed(ALICE), OP));
		System::assert_has_event(
			Event::EscrowWithdrawn { payer: ALICE, operator: OP, amount: ESCROW - 34 }.into(),
		);
		assert!(Escrows::<Test>::get(ALICE, OP).is_none());
		assert_eq!(free(ALICE), BALANCE - 34);
	});
}

#[test]
fn withdraw_escrow_locked_fails() {
	build_and_execute(|| {
		setup();
		assert_ok!(Usage::request_withdrawal(signed(ALICE), OP, 100));
		run_to_block(NOTICE);
		assert_noop!(Usage::withdraw_escrow(signed(ALICE), OP), Error::WithdrawalLocked);
	});
}

#[test]
fn withdraw_escrow_no_withdrawal_fails() {
	build_and_execute(|| {
		setup();
		assert_noop!(Usage::withdraw_escrow(signed(ALICE), OP), Error::NoWithdrawal);
	});
}

#[test]
fn withdraw_escrow_no_escrow_fails() {
	build_and_execute(|| {
		setup();
		assert_noop!(Usage::withdraw_escrow(signed(CAROL), OP), Error::NoEscrow);
	});
}

// ---- submit_usage ----

#[test]
fn submit_usage_works() {
	build_and_execute(|| {
		setup();
		let pot_before = free(pot());
		assert_ok!(submit(&three(0)));
		System::assert_has_event(
			Event::UsageSubmitted {
				operator: OP,
				sequence: 0,
				entries: 3,
				total_fee: 64,
				records_root: H256::repeat_byte(7),
			}
			.into(),
		);
		assert_eq!(Usage::escrow_of(&ALICE, &OP), ESCROW - 34);
		assert_eq!(Usage::escrow_of(&BOB, &OP), ESCROW - 30);
		assert_eq!(Usage::next_sequence(&OP), 1);
		assert_eq!(Usage::operator(&OP).expect("registered").open_batches, 1);
		let info = Batches::<Test>::get(OP, 0).expect("stored");
		assert_eq!(info.submitted_at, 1);
		assert_eq!(info.settles_at, 1 + WINDOW);
		assert_eq!(info.records_root, H256::repeat_byte(7));
		assert_eq!(info.entry_count, 3);
		assert_eq!(info.total_fee, 64);
		assert_eq!(info.fees_by_adapter.to_vec(), vec![(1, 50), (2, 14)]);
		assert!(info.frozen.is_empty() && info.open_disputes == 0);
		assert!(!info.settled);
		assert_eq!(
			BatchEntries::<Test>::get(OP, 0).expect("stored").to_vec(),
			vec![(ALICE, 1, 20), (ALICE, 2, 14), (BOB, 1, 30)]
		);
		// Charging moves no currency.
		assert_eq!(free(pot()), pot_before);
		// The operator may submit its own batches too.
		assert_ok!(submit_raw(signed(OP), three(1), sign(&op_key(), &three(1))));
		assert_eq!(Usage::next_sequence(&OP), 2);
	});
}

#[test]
fn submit_usage_weight_counts_entries_payers_adapters_works() {
	build_and_execute(|| {
		let entries = vec![
			entry(ALICE, 1, 1, 1, 1),
			entry(ALICE, 2, 1, 1, 1),
			entry(ALICE, 5, 1, 1, 1),
			entry(BOB, 2, 1, 1, 1),
			entry(CAROL, 1, 1, 1, 1),
		];
		assert_eq!(Usage::batch_shape(&entries), (5, 3, 3));
		assert_eq!(Usage::batch_shape(&[]), (0, 0, 0));
		let call = crate::Call::<Test>::submit_usage {
			batch: batch(OP, 0, entries),
			signature: junk(),
			vouchers: Default::default(),
		};
		assert_eq!(
			call.get_dispatch_info().call_weight,
			<() as WeightInfo>::submit_usage(5, 3, 3, 0)
		);
	});
}

#[test]
fn submit_usage_replay_fails() {
	build_and_execute(|| {
		setup_with_batch();
		assert_noop!(submit(&three(0)), Error::SequenceMismatch);
	});
}

#[test]
fn submit_usage_gap_fails() {
	build_and_execute(|| {
		setup();
		assert_noop!(submit(&three(1)), Error::SequenceMismatch);
	});
}

#[test]
fn submit_usage_forged_signature_fails() {
	build_and_execute(|| {
		setup();
		// Signed by another key.
		assert_noop!(submit_signed(&three(0), &key("//Mallory")), Error::BadSignature);
		// Signed for another chain.
		let other_chain = op_key().sign(&signing_payload(&H256::repeat_byte(1), &three(0)));
		assert_noop!(submit_raw(signed(RELAYER), three(0), other_chain), Error::BadSignature);
		// No signature at all.
		assert_noop!(submit_raw(signed(RELAYER), three(0), junk()), Error::BadSignature);
	});
}

#[test]
fn submit_usage_tampered_batch_fails() {
	build_and_execute(|| {
		setup();
		let signature = sign(&op_key(), &three(0));
		let mut fewer_tokens = three(0);
		fewer_tokens.entries[2].input_tokens = 3;
		assert_noop!(submit_raw(signed(RELAYER), fewer_tokens, signature), Error::BadSignature);
		let mut other_root = three(0);
		other_root.records_root = H256::repeat_byte(8);
		assert_noop!(submit_raw(signed(RELAYER), other_root, signature), Error::BadSignature);
		let mut other_operator = three(0);
		other_operator.operator = OP2;
		register(OP2, &key("//Op2"));
		assert_noop!(submit_raw(signed(RELAYER), other_operator, signature), Error::BadSignature);
		assert_ok!(submit_raw(signed(RELAYER), three(0), signature));
	});
}

#[test]
fn submit_usage_checks_cheap_things_before_signature_works() {
	build_and_execute(|| {
		setup();
		// Sequence, order, counts and tokens are checked before the signature…
		assert_noop!(submit_raw(signed(RELAYER), three(5), junk()), Error::SequenceMismatch);
		let unsorted = batch(OP, 0, vec![entry(BOB, 1, 1, 1, 1), entry(ALICE, 1, 1, 1, 1)]);
		assert_noop!(submit_raw(signed(RELAYER), unsorted, junk()), Error::EntriesNotSorted);
		let zero = batch(OP, 0, vec![entry(ALICE, 1, 0, 1, 1)]);
		assert_noop!(submit_raw(signed(RELAYER), zero, junk()), Error::ZeroTokens);
		// …and adapters and escrow after it.
		let unknown = batch(OP, 0, vec![entry(ALICE, 9, 1, 1, 1)]);
		assert_noop!(submit_raw(signed(RELAYER), unknown, junk()), Error::BadSignature);
	});
}

#[test]
fn submit_usage_empty_batch_fails() {
	build_and_execute(|| {
		setup();
		assert_noop!(submit(&batch(OP, 0, vec![])), Error::EmptyBatch);
	});
}

#[test]
fn submit_usage_too_many_entries_fails() {
	build_and_execute(|| {
		setup();
		let entries = (0..=u64::from(MAX_ENTRIES)).map(|p| entry(1_000 + p, 1, 1, 1, 1)).collect();
		assert_noop!(
			submit_raw(signed(RELAYER), batch(OP, 0, entries), junk()),
			Error::TooManyEntries
		);
	});
}

#[test]
fn submit_usage_too_many_adapters_fails() {
	build_and_execute(|| {
		setup();
		let entries = (1..=MAX_ADAPTERS + 1).map(|a| entry(ALICE, a, 1, 1, 1)).collect();
		assert_noop!(
			submit_raw(signed(RELAYER), batch(OP, 0, entries), junk()),
			Error::TooManyAdapters
		);
		// Exactly the most is fine.
		for a in 3..=MAX_ADAPTERS {
			MockAdapters::add(a, 1, 1);
		}
		let entries = (1..=MAX_ADAPTERS).map(|a| entry(ALICE, a, 1, 1, 1)).collect();
		assert_ok!(submit(&batch(OP, 0, entries)));
	});
}

#[test]
fn submit_usage_zero_tokens_fails() {
	build_and_execute(|| {
		setup();
		let no_request = batch(OP, 0, vec![entry(ALICE, 1, 0, 10, 10)]);
		assert_noop!(submit(&no_request), Error::ZeroTokens);
		let no_token = batch(OP, 0, vec![entry(ALICE, 1, 1, 10, 10), entry(BOB, 1, 1, 0, 0)]);
		assert_noop!(submit(&no_token), Error::ZeroTokens);
		// Output alone, or input alone, is usage.
		let one_sided = batch(OP, 0, vec![entry(ALICE, 1, 1, 0, 10), entry(BOB, 1, 1, 10, 0)]);
		assert_ok!(submit(&one_sided));
	});
}

#[test]
fn submit_usage_entries_not_sorted_fails() {
	build_and_execute(|| {
		setup();
		let by_payer = batch(OP, 0, vec![entry(BOB, 1, 1, 1, 1), entry(ALICE, 1, 1, 1, 1)]);
		assert_noop!(submit(&by_payer), Error::EntriesNotSorted);
		let by_adapter = batch(OP, 0, vec![entry(ALICE, 2, 1, 1, 1), entry(ALICE, 1, 1, 1, 1)]);
		assert_noop!(submit(&by_adapter), Error::EntriesNotSorted);
		let duplicate = batch(OP, 0, vec![entry(ALICE, 1, 1, 1, 1), entry(ALICE, 1, 1, 1, 1)]);
		assert_noop!(submit(&duplicate), Error::EntriesNotSorted);
	});
}

#[test]
fn submit_usage_not_operator_fails() {
	build_and_execute(|| {
		setup();
		let pair = key("//Op2");
		assert_noop!(submit_signed(&batch(OP2, 0, three(0).entries), &pair), Error::NotOperator);
	});
}

#[test]
fn submit_usage_operator_not_active_fails() {
	build_and_execute(|| {
		setup();
		assert_ok!(Usage::leave(signed(OP)));
		assert_noop!(submit(&three(0)), Error::OperatorNotActive);
	});
}

#[test]
fn submit_usage_unknown_adapter_fails() {
	build_and_execute(|| {
		setup();
		let unknown = batch(OP, 0, vec![entry(ALICE, 1, 1, 1, 1), entry(BOB, 9, 1, 1, 1)]);
		assert_noop!(submit(&unknown), Error::UnknownAdapter);
	});
}

#[test]
fn submit_usage_revoked_adapter_fails() {
	build_and_execute(|| {
		setup();
		MockAdapters::set_status(2, AdapterUse::Revoked);
		assert_noop!(submit(&three(0)), Error::AdapterRevoked);
	});
}

#[test]
fn submit_usage_deprecated_adapter_works() {
	build_and_execute(|| {
		setup();
		MockAdapters::set_status(2, AdapterUse::Deprecated);
		assert_ok!(submit(&three(0)));
		assert_eq!(Usage::escrow_of(&ALICE, &OP), ESCROW - 34);
	});
}

#[test]
fn submit_usage_price_in_force_works() {
	build_and_execute(|| {
		setup();
		MockAdapters::set_price(1, 5, 100, 200);
		run_to_block(4);
		let one = |sequence| batch(OP, sequence, vec![entry(ALICE, 1, 1, 1_000, 1_000)]);
		assert_ok!(submit(&one(0)));
		assert_eq!(Usage::escrow_of(&ALICE, &OP), ESCROW - 30);
		run_to_block(5);
		assert_ok!(submit(&one(1)));
		assert_eq!(Usage::escrow_of(&ALICE, &OP), ESCROW - 30 - 300);
	});
}

#[test]
fn submit_usage_charges_the_price_in_force_when_served_not_when_submitted() {
	build_and_execute(|| {
		setup();
		// A rise from 10/20 to 100/200 per 1k, in force from block 5.
		MockAdapters::set_price(1, 5, 100, 200);
		run_to_block(3);
		let served = |sequence, from, to| UsageBatch {
			served_from: from,
			served_to: to,
			..batch(OP, sequence, vec![entry(ALICE, 1, 1, 1_000, 1_000)])
		};
		// Served at 3 and 4, submitted at 9, after the rise: the old price.
		run_to_block(9);
		assert_ok!(submit(&served(0, 3, 4)));
		assert_eq!(Usage::escrow_of(&ALICE, &OP), ESCROW - 30);
		// Served across the rise: the lower price of the two.
		assert_ok!(submit(&served(1, 4, 6)));
		assert_eq!(Usage::escrow_of(&ALICE, &OP), ESCROW - 30 - 30);
		// Served after it: the new price.
		assert_ok!(submit(&served(2, 5, 9)));
		assert_eq!(Usage::escrow_of(&ALICE, &OP), ESCROW - 30 - 30 - 300);
	});
}

#[test]
fn submit_usage_refuses_serving_blocks_in_the_future_reversed_or_too_old() {
	build_and_execute(|| {
		setup();
		run_to_block(10);
		let served = |from, to| UsageBatch {
			served_from: from,
			served_to: to,
			..batch(OP, 0, vec![entry(ALICE, 1, 1, 1_000, 1_000)])
		};
		assert_noop!(submit(&served(10, 11)), Error::BadServedBlocks);
		assert_noop!(submit(&served(u32::MAX, u32::MAX)), Error::BadServedBlocks);
		assert_noop!(submit(&served(9, 8)), Error::BadServedBlocks);
		run_to_block(10 + SERVED_AGE + 1);
		assert_noop!(submit(&served(10, 10)), Error::ServedTooLongAgo);
		assert_noop!(submit(&served(0, 60)), Error::ServedTooLongAgo);
		// Exactly `MaxServedAge` blocks old is still charged.
		assert_ok!(submit(&served(11, 11)));
	});
}

#[test]
fn submit_usage_insufficient_escrow_fails() {
	build_and_execute(|| {
		setup();
		// One entry above the escrow: 1_000_100 input tokens at 10 per 1k is 10_001.
		let over = batch(OP, 0, vec![entry(ALICE, 1, 1, 1_000_100, 0)]);
		assert_noop!(submit(&over), Error::InsufficientEscrow);
		// Two entries of one payer, each within it, together above it.
		let split =
			batch(OP, 0, vec![entry(ALICE, 1, 1, 600_000, 0), entry(ALICE, 2, 1, 1_100_000, 0)]);
		assert_noop!(submit(&split), Error::InsufficientEscrow);
		// A payer with no escrow with the operator.
		let none = batch(OP, 0, vec![entry(CAROL, 1, 1, 1_000, 0)]);
		assert_noop!(submit(&none), Error::InsufficientEscrow);
		// Escrow with another operator does not count.
		register(OP2, &key("//Op2"));
		deposit(CAROL, OP2, ESCROW);
		assert_noop!(submit(&none), Error::InsufficientEscrow);
		// Exactly the escrow is fine, and the emptied entry is removed.
		let exact = batch(OP, 0, vec![entry(ALICE, 1, 1, 1_000_000, 0)]);
		assert_ok!(submit(&exact));
		assert!(Escrows::<Test>::get(ALICE, OP).is_none());
	});
}

#[test]
fn submit_usage_zero_fee_needs_no_escrow_works() {
	build_and_execute(|| {
		setup();
		// 10 tokens at 10 per 1k round down to 0.
		let free_usage = batch(OP, 0, vec![entry(CAROL, 1, 1, 10, 0)]);
		assert_ok!(submit(&free_usage));
		assert!(Escrows::<Test>::get(CAROL, OP).is_none());
		let info = Batches::<Test>::get(OP, 0).expect("stored");
		assert_eq!(info.total_fee, 0);
		assert_eq!(info.fees_by_adapter.to_vec(), vec![(1, 0)]);
		// Settling it hands nothing to settlement.
		past_window();
		assert_ok!(Usage::settle_batch(signed(RELAYER), OP, 0));
		assert!(MockSettlement::calls().is_empty());
		assert!(Batches::<Test>::get(OP, 0).is_none());
	});
}

#[test]
fn submit_usage_insufficient_bond_fails() {
	build_and_execute(|| {
		setup_with_batch();
		assert_ok!(Usage::dispute(signed(BOB), OP, 0, 2));
		assert_ok!(Usage::resolve_dispute(RuntimeOrigin::root(), OP, 0, 2, true));
		assert_eq!(Usage::operator(&OP).expect("registered").bond, BOND - SLASH);
		assert_noop!(submit(&three(1)), Error::InsufficientBond);
		// Topped up, its proofs count again.
		assert_ok!(Usage::bond_extra(signed(OP), SLASH));
		assert_ok!(submit(&three(1)));
	});
}

#[test]
fn submit_usage_overflow_fails() {
	build_and_execute(|| {
		setup();
		// The sequence cannot advance.
		NextSequence::<Test>::insert(OP, Sequence::MAX);
		assert_noop!(submit(&three(Sequence::MAX)), Error::Overflow);
		NextSequence::<Test>::insert(OP, 0);
		// A fee beyond u128.
		MockAdapters::add(3, u128::MAX, 0);
		assert_noop!(submit(&batch(OP, 0, vec![entry(ALICE, 3, 1, 2, 0)])), Error::Overflow);
	});
}

#[test]
fn submit_usage_unsigned_fails() {
	build_and_execute(|| {
		setup();
		assert_noop!(
			submit_raw(RuntimeOrigin::none(), three(0), sign(&op_key(), &three(0))),
			BadOrigin
		);
	});
}

#[test]
fn large_batch_settles_exactly_works() {
	build_and_execute(|| {
		register(OP, &op_key());
		let adapters: Vec<AdapterId> = (1..=10).collect();
		for a in &adapters {
			MockAdapters::add(*a, u128::from(*a) * 3 + 1, u128::from(*a) * 7 + 2);
		}
		let payers: Vec<u64> = (1_000..1_100).collect();
		for p in &payers {
			<Balances as Mutate<u64>>::set_balance(p, BALANCE);
			deposit(*p, OP, 1_000_000);
		}
		let mut entries = Vec::new();
		let mut by_adapter = BTreeMap::<AdapterId, u128>::new();
		let mut by_payer = BTreeMap::<u64, u128>::new();
		for p in &payers {
			for a in &adapters {
				let input = (p * 13 + u64::from(*a) * 7) % 5_000 + 1;
				let output = (p * 11 + u64::from(*a) * 5) % 3_000;
				entries.push(entry(*p, *a, 1 + (*a % 3), input, output));
				let fee = usage_fee(input, output, u128::from(*a) * 3 + 1, u128::from(*a) * 7 + 2)
					.expect("no overflow");
				*by_adapter.entry(*a).or_default() += fee;
				*by_payer.entry(*p).or_default() += fee;
			}
		}
		assert_eq!(entries.len(), 1_000);
		let total: u128 = by_adapter.values().sum();
		let large = batch(OP, 0, entries);
		assert_eq!(Usage::batch_shape(&large.entries), (1_000, 100, 10));
		assert_ok!(submit(&large));
		System::assert_has_event(
			Event::UsageSubmitted {
				operator: OP,
				sequence: 0,
				entries: 1_000,
				total_fee: total,
				records_root: H256::repeat_byte(7),
			}
			.into(),
		);
		for p in &payers {
			assert_eq!(Usage::escrow_of(p, &OP), 1_000_000 - by_payer[p]);
		}
		let pot_before = free(pot());
		past_window();
		assert_ok!(Usage::settle_batch(signed(RELAYER), OP, 0));
		assert_eq!(
			MockSettlement::calls(),
			vec![(pot(), OP, by_adapter.into_iter().collect::<Vec<_>>())]
		);
		assert_eq!(MockSettlement::total(), total);
		assert_eq!(free(pot()), pot_before - total);
		assert_eq!(free(SINK), ED + total);
		System::assert_has_event(
			Event::BatchSettled { operator: OP, sequence: 0, settled: total, frozen: 0 }.into(),
		);
	});
}

// ---- submit_usage: payer vouchers ----

/// Submits `batch` (signed by `OP`'s key) with `vouchers`.
fn submit_with(batch: &UsageBatch<u64>, vouchers: Vec<PayerVoucherOf<Test>>) -> DispatchResult {
	let vouchers = BoundedVec::try_from(vouchers).expect("at most MaxPayersPerBatch");
	Usage::submit_usage(signed(RELAYER), batch.clone(), sign(&op_key(), batch), vouchers)
}

#[test]
fn submit_usage_charges_up_to_the_signed_spend_limit_works() {
	build_and_execute(|| {
		setup();
		// Alice's fees are 34, Bob's 30: limits of exactly that are enough.
		assert_ok!(submit_with(&three(0), vec![voucher(ALICE, OP, 34), voucher(BOB, OP, 30)]));
		assert_eq!(Spent::<Test>::get(ALICE, OP), 34);
		assert_eq!(Spent::<Test>::get(BOB, OP), 30);
		// The same vouchers again cover nothing more: limits are totals, not per batch.
		assert_noop!(
			submit_with(&three(1), vec![voucher(ALICE, OP, 34), voucher(BOB, OP, 30)]),
			Error::SpendLimitExceeded
		);
		// Raised limits (what the payers' later requests sign) cover the second batch.
		assert_ok!(submit_with(&three(1), vec![voucher(ALICE, OP, 68), voucher(BOB, OP, 60)]));
		assert_eq!(Spent::<Test>::get(ALICE, OP), 68);
		assert_eq!(Usage::escrow_of(&ALICE, &OP), ESCROW - 68);
	});
}

#[test]
fn submit_usage_beyond_a_spend_limit_fails() {
	build_and_execute(|| {
		setup();
		// Escrow would cover it, but Alice signed for 33 only: nothing is charged to anyone.
		assert_noop!(
			submit_with(&three(0), vec![voucher(ALICE, OP, 33), voucher(BOB, OP, 30)]),
			Error::SpendLimitExceeded
		);
		assert_eq!(Spent::<Test>::get(ALICE, OP), 0);
		assert_eq!(Usage::escrow_of(&BOB, &OP), ESCROW);
	});
}

#[test]
fn submit_usage_spend_is_per_operator_works() {
	build_and_execute(|| {
		setup();
		register(OP2, &key("//Op2"));
		deposit(ALICE, OP2, ESCROW);
		assert_ok!(submit_with(&three(0), vec![voucher(ALICE, OP, 34), voucher(BOB, OP, 30)]));
		// Alice's voucher for OP is no authority for OP2, and OP2 starts from zero.
		let theirs = batch(OP2, 0, vec![entry(ALICE, 1, 2, 1_000, 500)]);
		let signature = sign(&key("//Op2"), &theirs);
		let mut wrong = voucher(ALICE, OP, 20);
		assert_noop!(
			Usage::submit_usage(
				signed(RELAYER),
				theirs.clone(),
				signature,
				BoundedVec::truncate_from(vec![wrong.clone()])
			),
			Error::BadVoucher
		);
		wrong = voucher(ALICE, OP2, 20);
		assert_ok!(Usage::submit_usage(
			signed(RELAYER),
			theirs,
			signature,
			BoundedVec::truncate_from(vec![wrong])
		));
		assert_eq!((Spent::<Test>::get(ALICE, OP), Spent::<Test>::get(ALICE, OP2)), (34, 20));
	});
}

#[test]
fn submit_usage_forged_voucher_fails() {
	build_and_execute(|| {
		setup();
		let genesis = System::block_hash(0);
		let bob = voucher(BOB, OP, 30);
		// Signed by someone else than the payer (the operator itself, say).
		let mut by_operator = voucher(ALICE, OP, u128::MAX);
		by_operator.signature = TestSignature(OP, by_operator.authorization(genesis, OP).message());
		// A genuine voucher with its limit raised afterwards.
		let mut raised = voucher(ALICE, OP, 10);
		raised.spend_limit = u128::MAX;
		// Signed for another chain.
		let mut other_chain = voucher(ALICE, OP, u128::MAX);
		other_chain.signature =
			TestSignature(ALICE, other_chain.authorization(H256::repeat_byte(1), OP).message());
		// The wrapping flag flipped (the signature is over the raw message).
		let mut flipped = voucher(ALICE, OP, u128::MAX);
		flipped.wrapped = true;
		for forged in [by_operator, raised, other_chain, flipped] {
			assert_noop!(submit_with(&three(0), vec![forged, bob.clone()]), Error::BadVoucher);
		}
		// The wrapped form a wallet's signRaw signs is accepted.
		let mut wrapped = voucher(ALICE, OP, 34);
		wrapped.wrapped = true;
		wrapped.signature =
			TestSignature(ALICE, wrapped.authorization(genesis, OP).wrapped_message());
		assert_ok!(submit_with(&three(0), vec![wrapped, bob]));
	});
}

#[test]
fn submit_usage_voucher_mismatch_fails() {
	build_and_execute(|| {
		setup();
		let (alice, bob, carol) =
			(voucher(ALICE, OP, 1_000), voucher(BOB, OP, 1_000), voucher(CAROL, OP, 1_000));
		for vouchers in [
			vec![],                                  // none
			vec![alice.clone()],                     // Bob's missing
			vec![bob.clone(), alice.clone()],        // not in the entries' order
			vec![alice.clone(), carol.clone()],      // Carol is not in the batch
			vec![alice.clone(), bob.clone(), carol], // one too many
			vec![alice.clone(), alice.clone(), bob], // Alice twice
		] {
			assert_noop!(submit_with(&three(0), vouchers), Error::VoucherMismatch);
		}
	});
}

#[test]
fn submit_usage_too_many_payers_fails() {
	build_and_execute(|| {
		setup();
		let entries: Vec<_> =
			(0..=u64::from(MAX_PAYERS)).map(|i| entry(1_000 + i, 1, 1, 1, 1)).collect();
		let big = batch(OP, 0, entries);
		// A voucher for each of the first MAX_PAYERS payers: the next payer is one too many.
		let vouchers: Vec<_> =
			(0..u64::from(MAX_PAYERS)).map(|i| voucher(1_000 + i, OP, 1)).collect();
		let vouchers = BoundedVec::try_from(vouchers).expect("MAX_PAYERS vouchers");
		assert_noop!(
			Usage::submit_usage(signed(RELAYER), big.clone(), sign(&op_key(), &big), vouchers),
			Error::TooManyPayers
		);
	});
}

// ---- dispute ----

#[test]
fn dispute_works() {
	build_and_execute(|| {
		setup_with_batch();
		run_to_block(WINDOW);
		let bob_before = free(BOB);
		assert_ok!(Usage::dispute(signed(BOB), OP, 0, 2));
		System::assert_has_event(
			Event::DisputeOpened {
				operator: OP,
				sequence: 0,
				entry: 2,
				payer: BOB,
				fee: 30,
				deposit: DISPUTE_DEPOSIT,
			}
			.into(),
		);
		assert_eq!(
			Disputes::<Test>::get((OP, 0, 2)),
			Some(Dispute { payer: BOB, adapter: 1, fee: 30, deposit: DISPUTE_DEPOSIT })
		);
		let info = Batches::<Test>::get(OP, 0).expect("stored");
		assert_eq!((info.open_disputes, info.frozen.to_vec()), (1, vec![(1, 30)]));
		assert_eq!(DisputedEntries::<Test>::get(OP, 0).map(|b| b.to_vec()), Some(vec![0b100]));
		// The deposit is held from Bob; the fee stays charged while frozen.
		assert_eq!(free(BOB), bob_before - DISPUTE_DEPOSIT);
		assert_eq!(deposit_held(BOB), DISPUTE_DEPOSIT);
		assert_eq!(Usage::escrow_of(&BOB, &OP), ESCROW - 30);
	});
}

#[test]
fn dispute_not_payer_fails() {
	build_and_execute(|| {
		setup_with_batch();
		assert_noop!(Usage::dispute(signed(ALICE), OP, 0, 2), Error::NotPayer);
	});
}

#[test]
fn dispute_window_closed_fails() {
	build_and_execute(|| {
		setup_with_batch();
		past_window();
		assert_noop!(Usage::dispute(signed(BOB), OP, 0, 2), Error::DisputeWindowClosed);
	});
}

#[test]
fn dispute_already_disputed_fails() {
	build_and_execute(|| {
		setup_with_batch();
		assert_ok!(Usage::dispute(signed(BOB), OP, 0, 2));
		assert_noop!(Usage::dispute(signed(BOB), OP, 0, 2), Error::AlreadyDisputed);
		// Resolved disputes cannot be opened again either.
		assert_ok!(Usage::resolve_dispute(RuntimeOrigin::root(), OP, 0, 2, false));
		assert_noop!(Usage::dispute(signed(BOB), OP, 0, 2), Error::AlreadyDisputed);
	});
}

#[test]
fn dispute_room_cannot_be_exhausted_by_a_ring_of_payers() {
	build_and_execute(|| {
		setup();
		// 200 sock-puppet payers with one small entry each, and Alice's entry last.
		let ring: Vec<u64> = (1_000..1_200).collect();
		let mut entries: Vec<_> = ring.iter().map(|p| entry(*p, 1, 1, 1, 1)).collect();
		entries.insert(0, entry(ALICE, 1, 1, 1_000, 1_000));
		let mut vouchers = vec![voucher(ALICE, OP, u128::MAX)];
		for p in &ring {
			Balances::set_balance(p, 1_000);
			assert_ok!(Usage::deposit_escrow(signed(*p), OP, 100));
			vouchers.push(voucher(*p, OP, u128::MAX));
		}
		let big = batch(OP, 0, entries);
		assert_ok!(submit_with(&big, vouchers));
		// Every puppet disputes its entry, each paying a deposit...
		for (i, p) in ring.iter().enumerate() {
			assert_ok!(Usage::dispute(signed(*p), OP, 0, i as u32 + 1));
			assert_eq!(deposit_held(*p), DISPUTE_DEPOSIT);
		}
		// ...and Alice can still dispute hers.
		assert_ok!(Usage::dispute(signed(ALICE), OP, 0, 0));
		assert_eq!(Batches::<Test>::get(OP, 0).expect("stored").open_disputes, 201);
		Usage::do_try_state().expect("invariants hold");
	});
}

#[test]
fn dispute_without_the_deposit_fails() {
	build_and_execute(|| {
		setup_with_batch();
		// Bob keeps less than the deposit (above the existential deposit).
		let keep = ED + DISPUTE_DEPOSIT - 1;
		Balances::set_balance(&BOB, keep);
		assert_noop!(Usage::dispute(signed(BOB), OP, 0, 2), Error::InsufficientDeposit);
	});
}

#[test]
fn dispute_unknown_batch_fails() {
	build_and_execute(|| {
		setup_with_batch();
		assert_noop!(Usage::dispute(signed(BOB), OP, 1, 0), Error::UnknownBatch);
		assert_noop!(Usage::dispute(signed(BOB), OP2, 0, 0), Error::UnknownBatch);
	});
}

#[test]
fn dispute_unknown_entry_fails() {
	build_and_execute(|| {
		setup_with_batch();
		assert_noop!(Usage::dispute(signed(BOB), OP, 0, 3), Error::UnknownEntry);
	});
}

// ---- resolve_dispute ----

#[test]
fn resolve_dispute_refund_works() {
	build_and_execute(|| {
		setup_with_batch();
		assert_ok!(Usage::dispute(signed(BOB), OP, 0, 2));
		assert_ok!(Usage::resolve_dispute(RuntimeOrigin::root(), OP, 0, 2, true));
		System::assert_has_event(
			Event::DisputeResolved {
				operator: OP,
				sequence: 0,
				entry: 2,
				refunded: true,
				slashed: SLASH,
			}
			.into(),
		);
		// The fee is back in Bob's escrow; the bond is slashed to the treasury.
		assert_eq!(Usage::escrow_of(&BOB, &OP), ESCROW);
		assert_eq!(Usage::operator(&OP).expect("registered").bond, BOND - SLASH);
		assert_eq!(held(OP), BOND - SLASH);
		assert_eq!(free(TREASURY), ED + SLASH);
		let info = Batches::<Test>::get(OP, 0).expect("stored");
		assert_eq!(info.total_fee, 34);
		assert_eq!(info.fees_by_adapter.to_vec(), vec![(1, 20), (2, 14)]);
		assert_eq!((info.open_disputes, info.refunded), (0, 30));
		assert!(info.frozen.is_empty() && Disputes::<Test>::get((OP, 0, 2)).is_none());
		// Upheld: Bob's deposit is back.
		assert_eq!(deposit_held(BOB), 0);
		// Settlement excludes it.
		past_window();
		assert_ok!(Usage::settle_batch(signed(RELAYER), OP, 0));
		assert_eq!(MockSettlement::calls(), vec![(pot(), OP, vec![(1, 20), (2, 14)])]);
		System::assert_has_event(
			Event::BatchSettled { operator: OP, sequence: 0, settled: 34, frozen: 0 }.into(),
		);
		assert!(Batches::<Test>::get(OP, 0).is_none());
		assert!(BatchEntries::<Test>::get(OP, 0).is_none());
		assert!(DisputedEntries::<Test>::get(OP, 0).is_none());
		// Refunded once only.
		assert_noop!(
			Usage::resolve_dispute(RuntimeOrigin::root(), OP, 0, 2, true),
			Error::UnknownBatch
		);
	});
}

#[test]
fn resolve_dispute_refund_after_settlement_works() {
	build_and_execute(|| {
		setup_with_batch();
		assert_ok!(Usage::dispute(signed(BOB), OP, 0, 2));
		past_window();
		assert_ok!(Usage::settle_batch(signed(RELAYER), OP, 0));
		assert_ok!(Usage::resolve_dispute(RuntimeOrigin::root(), OP, 0, 2, true));
		assert_eq!(Usage::escrow_of(&BOB, &OP), ESCROW);
		assert_eq!(MockSettlement::calls(), vec![(pot(), OP, vec![(1, 20), (2, 14)])]);
		assert!(Batches::<Test>::get(OP, 0).is_none());
		assert_eq!(Usage::operator(&OP).expect("registered").open_batches, 0);
	});
}

#[test]
fn resolve_dispute_refund_twice_fails() {
	build_and_execute(|| {
		setup_with_batch();
		assert_ok!(Usage::dispute(signed(BOB), OP, 0, 2));
		assert_ok!(Usage::resolve_dispute(RuntimeOrigin::root(), OP, 0, 2, true));
		assert_noop!(
			Usage::resolve_dispute(RuntimeOrigin::root(), OP, 0, 2, true),
			Error::NotDisputed
		);
	});
}

#[test]
fn resolve_dispute_slash_is_capped_by_bond_works() {
	build_and_execute(|| {
		setup();
		for a in 3..=4 {
			MockAdapters::add(a, 1, 1);
		}
		let four = batch(OP, 0, (1..=4).map(|a| entry(ALICE, a, 1, 1_000, 1_000)).collect());
		assert_ok!(submit(&four));
		for i in 0..4 {
			assert_ok!(Usage::dispute(signed(ALICE), OP, 0, i));
		}
		for i in 0..3 {
			assert_ok!(Usage::resolve_dispute(RuntimeOrigin::root(), OP, 0, i, true));
		}
		assert_eq!(Usage::operator(&OP).expect("registered").bond, BOND - 3 * SLASH);
		assert_ok!(Usage::resolve_dispute(RuntimeOrigin::root(), OP, 0, 3, true));
		System::assert_has_event(
			Event::DisputeResolved {
				operator: OP,
				sequence: 0,
				entry: 3,
				refunded: true,
				slashed: BOND - 3 * SLASH,
			}
			.into(),
		);
		assert_eq!(Usage::operator(&OP).expect("registered").bond, 0);
		assert_eq!(held(OP), 0);
		assert_eq!(free(TREASURY), ED + BOND);
		assert_eq!(Usage::escrow_of(&ALICE, &OP), ESCROW);
	});
}

#[test]
fn resolve_dispute_release_before_settlement_works() {
	build_and_execute(|| {
		setup_with_batch();
		assert_ok!(Usage::dispute(signed(BOB), OP, 0, 2));
		let op_free = free(OP);
		assert_ok!(Usage::resolve_dispute(RuntimeOrigin::root(), OP, 0, 2, false));
		System::assert_has_event(
			Event::DisputeResolved {
				operator: OP,
				sequence: 0,
				entry: 2,
				refunded: false,
				slashed: 0,
			}
			.into(),
		);
		// Nothing settled yet; the bond untouched; rejected: Bob's deposit goes to the
		// operator.
		assert!(MockSettlement::calls().is_empty());
		assert_eq!(held(OP), BOND);
		assert_eq!(deposit_held(BOB), 0);
		assert_eq!(free(OP), op_free + DISPUTE_DEPOSIT);
		let info = Batches::<Test>::get(OP, 0).expect("stored");
		assert!(info.open_disputes == 0 && info.frozen.is_empty());
		// Unfrozen: settle_batch includes it.
		past_window();
		assert_ok!(Usage::settle_batch(signed(RELAYER), OP, 0));
		assert_eq!(MockSettlement::calls(), vec![(pot(), OP, vec![(1, 50), (2, 14)])]);
		assert!(Batches::<Test>::get(OP, 0).is_none());
	});
}

#[test]
fn resolve_dispute_release_after_settlement_works() {
	build_and_execute(|| {
		setup_with_batch();
		assert_ok!(Usage::dispute(signed(BOB), OP, 0, 2));
		past_window();
		assert_ok!(Usage::settle_batch(signed(RELAYER), OP, 0));
		System::assert_has_event(
			Event::BatchSettled { operator: OP, sequence: 0, settled: 34, frozen: 30 }.into(),
		);
		// Kept while the dispute is open.
		assert!(Batches::<Test>::get(OP, 0).expect("stored").settled);
		assert_eq!(Usage::operator(&OP).expect("registered").open_batches, 1);
		let pot_before = free(pot());
		assert_ok!(Usage::resolve_dispute(RuntimeOrigin::root(), OP, 0, 2, false));
		assert_eq!(
			MockSettlement::calls(),
			vec![(pot(), OP, vec![(1, 20), (2, 14)]), (pot(), OP, vec![(1, 30)])]
		);
		assert_eq!(free(pot()), pot_before - 30);
		assert_eq!(Usage::escrow_of(&BOB, &OP), ESCROW - 30);
		assert!(Batches::<Test>::get(OP, 0).is_none());
		assert!(BatchEntries::<Test>::get(OP, 0).is_none());
		assert_eq!(Usage::operator(&OP).expect("registered").open_batches, 0);
	});
}

#[test]
fn resolve_dispute_not_disputed_fails() {
	build_and_execute(|| {
		setup_with_batch();
		assert_noop!(
			Usage::resolve_dispute(RuntimeOrigin::root(), OP, 0, 0, false),
			Error::NotDisputed
		);
	});
}

#[test]
fn resolve_dispute_unknown_batch_fails() {
	build_and_execute(|| {
		setup_with_batch();
		assert_noop!(
			Usage::resolve_dispute(RuntimeOrigin::root(), OP, 1, 0, true),
			Error::UnknownBatch
		);
	});
}

#[test]
fn resolve_dispute_bad_origin_fails() {
	build_and_execute(|| {
		setup_with_batch();
		assert_ok!(Usage::dispute(signed(BOB), OP, 0, 2));
		assert_noop!(Usage::resolve_dispute(signed(ALICE), OP, 0, 2, true), BadOrigin);
	});
}

// ---- settle_batch ----

#[test]
fn settle_batch_works() {
	build_and_execute(|| {
		setup_with_batch();
		past_window();
		let pot_before = free(pot());
		let result = Usage::settle_batch(signed(CAROL), OP, 0);
		assert_ok!(result);
		System::assert_has_event(
			Event::BatchSettled { operator: OP, sequence: 0, settled: 64, frozen: 0 }.into(),
		);
		assert_eq!(MockSettlement::calls(), vec![(pot(), OP, vec![(1, 50), (2, 14)])]);
		assert_eq!(free(pot()), pot_before - 64);
		assert_eq!(free(SINK), ED + 64);
		assert!(Batches::<Test>::get(OP, 0).is_none());
		assert!(BatchEntries::<Test>::get(OP, 0).is_none());
		assert_eq!(Usage::operator(&OP).expect("registered").open_batches, 0);
		// The weight of the adapters not settled is refunded.
		assert_eq!(
			result.expect("settled").actual_weight,
			Some(
				<() as WeightInfo>::settle_batch(2, 0)
					.saturating_add(<MockSettlement as SettleFees<u64, u128>>::settle_weight(2, 0))
			)
		);
		let declared = crate::Call::<Test>::settle_batch { operator: OP, sequence: 0 }
			.get_dispatch_info()
			.call_weight;
		assert_eq!(
			declared,
			<() as WeightInfo>::settle_batch(MAX_ADAPTERS, MAX_ADAPTERS * MAX_MATCHED)
				.saturating_add(<MockSettlement as SettleFees<u64, u128>>::settle_weight(
					MAX_ADAPTERS,
					MAX_ADAPTERS * MAX_MATCHED
				))
		);
	});
}

#[test]
fn settle_batch_dispute_window_open_fails() {
	build_and_execute(|| {
		setup_with_batch();
		run_to_block(WINDOW);
		assert_noop!(Usage::settle_batch(signed(CAROL), OP, 0), Error::DisputeWindowOpen);
	});
}

#[test]
fn settle_batch_already_settled_fails() {
	build_and_execute(|| {
		setup_with_batch();
		assert_ok!(Usage::dispute(signed(BOB), OP, 0, 2));
		past_window();
		assert_ok!(Usage::settle_batch(signed(CAROL), OP, 0));
		assert_noop!(Usage::settle_batch(signed(CAROL), OP, 0), Error::AlreadySettled);
	});
}

#[test]
fn settle_batch_unknown_batch_fails() {
	build_and_execute(|| {
		setup_with_batch();
		past_window();
		assert_noop!(Usage::settle_batch(signed(CAROL), OP, 1), Error::UnknownBatch);
		assert_ok!(Usage::settle_batch(signed(CAROL), OP, 0));
		// Removed once settled.
		assert_noop!(Usage::settle_batch(signed(CAROL), OP, 0), Error::UnknownBatch);
	});
}

#[test]
fn settle_batch_unsigned_fails() {
	build_and_execute(|| {
		setup_with_batch();
		past_window();
		assert_noop!(Usage::settle_batch(RuntimeOrigin::none(), OP, 0), BadOrigin);
	});
}

// ---- matched shares ----

/// A matched share of `adapter`'s fee: `percent` to `who`'s records in version 1 of datanet 7.
fn share(adapter: AdapterId, who: u64, percent: u32) -> MatchedShare<u64> {
	MatchedShare {
		adapter,
		datanet: 7,
		version: 1,
		contributor: who,
		share: Perbill::from_percent(percent),
	}
}

/// [`three`] with `matched` shares.
fn three_matched(sequence: Sequence, matched: Vec<MatchedShare<u64>>) -> UsageBatch<u64> {
	UsageBatch { matched, ..three(sequence) }
}

#[test]
fn submit_usage_stores_matched_shares_and_settlement_passes_them_works() {
	build_and_execute(|| {
		setup();
		let matched = vec![share(1, CAROL, 40), share(1, DAVE, 60), share(2, CAROL, 10)];
		assert_ok!(submit(&three_matched(0, matched.clone())));
		assert_eq!(BatchMatched::<Test>::get(OP, 0).map(|m| m.to_vec()), Some(matched.clone()));
		past_window();
		assert_ok!(Usage::settle_batch(signed(RELAYER), OP, 0));
		assert_eq!(MockSettlement::calls(), vec![(pot(), OP, vec![(1, 50), (2, 14)])]);
		assert_eq!(MockSettlement::matched(), vec![matched]);
		// Removed with the batch.
		assert!(BatchMatched::<Test>::get(OP, 0).is_none());
		assert_ok!(Usage::do_try_state());
	});
}

#[test]
fn submit_usage_without_matched_shares_stores_none_works() {
	build_and_execute(|| {
		setup_with_batch();
		assert!(BatchMatched::<Test>::get(OP, 0).is_none());
		past_window();
		assert_ok!(Usage::settle_batch(signed(RELAYER), OP, 0));
		assert_eq!(MockSettlement::matched(), vec![Vec::new()]);
	});
}

#[test]
fn submit_usage_malformed_matched_shares_fail() {
	build_and_execute(|| {
		setup();
		let refused = |matched: Vec<MatchedShare<u64>>, error: Error| {
			assert_noop!(submit(&three_matched(0, matched)), error);
		};
		// Out of order, and a repeat.
		refused(vec![share(1, DAVE, 10), share(1, CAROL, 10)], Error::MatchedNotSorted);
		refused(vec![share(2, CAROL, 10), share(1, CAROL, 10)], Error::MatchedNotSorted);
		refused(vec![share(1, CAROL, 10), share(1, CAROL, 10)], Error::MatchedNotSorted);
		// An adapter with no entry in the batch.
		refused(vec![share(3, CAROL, 10)], Error::MatchedAdapterNotInBatch);
		// A zero share.
		refused(vec![share(1, CAROL, 0)], Error::ZeroMatchedShare);
		// More than 100% of one adapter's fee (each adapter is counted on its own).
		refused(vec![share(1, CAROL, 60), share(1, DAVE, 41)], Error::MatchedOverWhole);
		assert_ok!(submit(&three_matched(
			0,
			vec![share(1, CAROL, 60), share(1, DAVE, 40), share(2, CAROL, 100)]
		)));
	});
}

#[test]
fn submit_usage_too_many_matched_shares_fails() {
	build_and_execute(|| {
		setup();
		let many = |n: u64| (0..n).map(|i| share(1, 100 + i, 1)).collect::<Vec<_>>();
		assert_noop!(
			submit(&three_matched(0, many(u64::from(MAX_MATCHED) + 1))),
			Error::TooManyMatched
		);
		assert_ok!(submit(&three_matched(0, many(u64::from(MAX_MATCHED)))));
	});
}

#[test]
fn submit_usage_matched_shares_are_signed_works() {
	build_and_execute(|| {
		setup();
		// A relayer that moves a share after the operator signed breaks the signature.
		let signed_batch = three_matched(0, vec![share(1, CAROL, 10)]);
		let signature = sign(&op_key(), &signed_batch);
		let moved = three_matched(0, vec![share(1, RELAYER, 10)]);
		assert_noop!(submit_raw(signed(RELAYER), moved, signature), Error::BadSignature);
	});
}

#[test]
fn submit_usage_weight_counts_matched_shares_works() {
	build_and_execute(|| {
		setup();
		let batch = three_matched(0, vec![share(1, CAROL, 10), share(2, CAROL, 10)]);
		let call = crate::Call::<Test>::submit_usage {
			vouchers: vouchers(&batch, u128::MAX),
			signature: sign(&op_key(), &batch),
			batch,
		};
		// Weighed with its two matched shares (their cost measured apart from the entries').
		assert_eq!(
			call.get_dispatch_info().call_weight,
			<() as WeightInfo>::submit_usage(3, 2, 2, 2)
		);
	});
}

#[test]
fn resolve_dispute_release_after_settlement_passes_the_adapters_shares_works() {
	build_and_execute(|| {
		setup();
		let matched = vec![share(1, CAROL, 40), share(2, DAVE, 10)];
		assert_ok!(submit(&three_matched(0, matched.clone())));
		// Bob's entry (adapter 1, fee 30) is disputed, then released after settlement.
		assert_ok!(Usage::dispute(signed(BOB), OP, 0, 2));
		past_window();
		assert_ok!(Usage::settle_batch(signed(RELAYER), OP, 0));
		assert!(BatchMatched::<Test>::get(OP, 0).is_some(), "kept while a dispute is open");
		assert_ok!(Usage::resolve_dispute(RuntimeOrigin::root(), OP, 0, 2, false));
		assert_eq!(
			MockSettlement::calls(),
			vec![(pot(), OP, vec![(1, 20), (2, 14)]), (pot(), OP, vec![(1, 30)])]
		);
		assert_eq!(MockSettlement::matched(), vec![matched, vec![share(1, CAROL, 40)]]);
		assert!(BatchMatched::<Test>::get(OP, 0).is_none());
		assert_ok!(Usage::do_try_state());
	});
}
