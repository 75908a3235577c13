//! Unit tests of the jobs pallet on the mock runtime.

use crate::{
	mock::*, Error, Event, Expiries, FulfilmentOf, HoldReason, JobState, Jobs as JobRecords,
	NextJobId, Outputs, SamplingParams,
};
use lineage_primitives::{
	jobs::{fulfilment_payload, response_hash},
	usage::{usage_fee, AdapterUse, MatchedShare, RecordMatch},
};
use polkadot_sdk::{
	frame_support::{assert_noop, assert_ok, traits::fungible::InspectHold, BoundedVec},
	frame_system,
	sp_core::{sr25519, Pair, H256},
};

/// A prompt.
const PROMPT: &[u8] = b"What is 2 + 2?";
/// A fee ceiling that covers every test's tokens.
const MAX_FEE: u128 = 10_000;
/// The ttl the tests ask for.
const TTL: u32 = 10;

fn prompt(
	bytes: &[u8],
) -> BoundedVec<u8, polkadot_sdk::frame_support::traits::ConstU32<MAX_PROMPT>> {
	BoundedVec::try_from(bytes.to_vec()).expect("a short prompt")
}

/// Alice asks adapter [`ADAPTER`] for 16 tokens at most, any operator; returns the job id.
fn request_as(who: u64, max_fee: u128, operator: Option<u64>) -> u64 {
	let id = NextJobId::<Test>::get();
	assert_ok!(Jobs::request(
		RuntimeOrigin::signed(who),
		ADAPTER,
		prompt(PROMPT),
		16,
		SamplingParams::greedy(),
		max_fee,
		TTL,
		operator,
	));
	id
}

/// A fulfilment of `job` by `operator` with `output`, 30 input and `output_tokens` tokens.
fn fulfilment(job: u64, operator: u64, output: &[u8], output_tokens: u64) -> FulfilmentOf<Test> {
	FulfilmentOf::<Test> {
		job,
		operator,
		input_tokens: 30,
		output_tokens,
		response_hash: response_hash(output),
		output: BoundedVec::try_from(output.to_vec()).expect("a short output"),
		matched: Vec::new(),
	}
}

/// `operator` claims the open job `job`.
fn claim(job: u64, operator: u64) {
	assert_ok!(Jobs::claim(RuntimeOrigin::signed(operator), job));
}

/// `fulfilment` signed with `pair` over this chain's payload.
fn sign(pair: &sr25519::Pair, fulfilment: &FulfilmentOf<Test>) -> sr25519::Signature {
	let genesis = frame_system::Pallet::<Test>::block_hash(0);
	pair.sign(&fulfilment_payload(&genesis, fulfilment))
}

fn held(reason: HoldReason, who: u64) -> u128 {
	Balances::balance_on_hold(&reason.into(), &who)
}

fn deposit() -> u128 {
	DEPOSIT_BASE + DEPOSIT_PER_BYTE * (PROMPT.len() as u128 + MAX_OUTPUT as u128)
}

#[test]
fn request_holds_the_ceiling_and_the_deposit_and_lists_the_expiry() {
	build_and_execute(|| {
		let job = request_as(ALICE, MAX_FEE, None);
		assert_eq!(job, 0);
		assert_eq!(held(HoldReason::JobFee, ALICE), MAX_FEE);
		assert_eq!(held(HoldReason::JobStorage, ALICE), deposit());
		assert_eq!(Balances::free_balance(ALICE), BALANCE - MAX_FEE - deposit());
		let stored = JobRecords::<Test>::get(job).unwrap();
		assert_eq!(stored.requester, ALICE);
		assert_eq!(stored.prompt.to_vec(), PROMPT.to_vec());
		assert_eq!(stored.expires_at, 1 + TTL);
		assert_eq!(stored.state, JobState::Pending);
		assert_eq!(Expiries::<Test>::get(1 + TTL).to_vec(), vec![job]);
		System::assert_last_event(
			Event::JobRequested {
				job,
				requester: ALICE,
				adapter: ADAPTER,
				operator: None,
				max_output_tokens: 16,
				max_fee: MAX_FEE,
				expires_at: 1 + TTL,
			}
			.into(),
		);
		assert_eq!(request_as(BOB, MAX_FEE, Some(OP)), 1);
	});
}

#[test]
fn request_refuses_bad_input_with_named_errors() {
	build_and_execute(|| {
		let ask = |who: u64,
		           adapter: u32,
		           p: &[u8],
		           max_out: u32,
		           sampling: SamplingParams,
		           max_fee: u128,
		           ttl: u32,
		           operator: Option<u64>| {
			Jobs::request(
				RuntimeOrigin::signed(who),
				adapter,
				prompt(p),
				max_out,
				sampling,
				max_fee,
				ttl,
				operator,
			)
		};
		let greedy = SamplingParams::greedy();
		assert_noop!(
			ask(ALICE, ADAPTER, b"", 16, greedy, MAX_FEE, TTL, None),
			Error::<Test>::EmptyPrompt
		);
		assert_noop!(
			ask(ALICE, ADAPTER, &[0xff, 0xfe], 16, greedy, MAX_FEE, TTL, None),
			Error::<Test>::PromptNotUtf8
		);
		assert_noop!(
			ask(ALICE, ADAPTER, PROMPT, 0, greedy, MAX_FEE, TTL, None),
			Error::<Test>::BadMaxOutputTokens
		);
		assert_noop!(
			ask(ALICE, ADAPTER, PROMPT, 65, greedy, MAX_FEE, TTL, None),
			Error::<Test>::BadMaxOutputTokens
		);
		let hot = SamplingParams { temperature_milli: 2_001, ..greedy };
		assert_noop!(
			ask(ALICE, ADAPTER, PROMPT, 16, hot, MAX_FEE, TTL, None),
			Error::<Test>::BadSampling
		);
		assert_noop!(
			ask(ALICE, ADAPTER, PROMPT, 16, greedy, MAX_FEE, 1, None),
			Error::<Test>::BadTtl
		);
		assert_noop!(
			ask(ALICE, ADAPTER, PROMPT, 16, greedy, MAX_FEE, 101, None),
			Error::<Test>::BadTtl
		);
		assert_noop!(
			ask(ALICE, 99, PROMPT, 16, greedy, MAX_FEE, TTL, None),
			Error::<Test>::UnknownAdapter
		);
		assert_noop!(
			ask(ALICE, ADAPTER, PROMPT, 16, greedy, MAX_FEE, TTL, Some(BOB)),
			Error::<Test>::OperatorNotServing
		);
		// One input and one output token cost (2_000 + 6_000) / 1_000 = 8.
		assert_noop!(
			ask(ALICE, ADAPTER, PROMPT, 16, greedy, 7, TTL, None),
			Error::<Test>::FeeCeilingTooLow
		);
		assert_noop!(
			ask(POOR, ADAPTER, PROMPT, 16, greedy, MAX_FEE, TTL, None),
			Error::<Test>::InsufficientBalance
		);
		MockAdapters::set_status(ADAPTER, AdapterUse::Revoked);
		assert_noop!(
			ask(ALICE, ADAPTER, PROMPT, 16, greedy, MAX_FEE, TTL, None),
			Error::<Test>::AdapterRevoked
		);
		MockAdapters::set_status(ADAPTER, AdapterUse::Active);
		// Four jobs may expire in one block; the fifth must choose another ttl.
		for _ in 0..4 {
			request_as(ALICE, MAX_FEE, None);
		}
		assert_noop!(
			ask(ALICE, ADAPTER, PROMPT, 16, greedy, MAX_FEE, TTL, None),
			Error::<Test>::ExpiryBlockFull
		);
		assert_ok!(ask(ALICE, ADAPTER, PROMPT, 16, greedy, MAX_FEE, TTL + 1, None));
	});
}

#[test]
fn fulfil_charges_the_fee_for_the_tokens_settles_it_and_refunds_the_rest() {
	build_and_execute(|| {
		let job = request_as(ALICE, MAX_FEE, None);
		claim(job, OP);
		let f = fulfilment(job, OP, b"4", 5);
		let signature = sign(&op_pair(), &f);
		// A relayer may submit it: the operator key's signature is what counts.
		assert_ok!(Jobs::fulfil(RuntimeOrigin::signed(RELAYER), f, signature));

		let fee = usage_fee(30, 5, PER_1K_IN, PER_1K_OUT).unwrap();
		assert_eq!(fee, (30 * 2_000 + 5 * 6_000) / 1_000);
		assert_eq!(MockSettlement::calls(), vec![(ALICE, OP, vec![(ADAPTER, fee)])]);
		assert_eq!(held(HoldReason::JobFee, ALICE), 0);
		assert_eq!(held(HoldReason::JobStorage, ALICE), deposit());
		assert_eq!(Balances::free_balance(ALICE), BALANCE - fee - deposit());
		assert_eq!(Balances::free_balance(SINK), ED + fee);
		assert_eq!(Outputs::<Test>::get(job).unwrap().to_vec(), b"4".to_vec());
		assert!(matches!(
			JobRecords::<Test>::get(job).unwrap().state,
			JobState::Fulfilled { operator: OP, input_tokens: 30, output_tokens: 5, fee: f, .. } if f == fee
		));
		System::assert_last_event(
			Event::JobFulfilled {
				job,
				operator: OP,
				input_tokens: 30,
				output_tokens: 5,
				fee,
				refunded: MAX_FEE - fee,
				response_hash: response_hash(b"4"),
			}
			.into(),
		);

		// Taken: the job and output are gone and the deposit is back.
		assert_noop!(
			Jobs::take_output(RuntimeOrigin::signed(BOB), job),
			Error::<Test>::NotRequester
		);
		assert_ok!(Jobs::take_output(RuntimeOrigin::signed(ALICE), job));
		assert_eq!(Balances::free_balance(ALICE), BALANCE - fee);
		assert_eq!(held(HoldReason::JobStorage, ALICE), 0);
		assert!(JobRecords::<Test>::get(job).is_none() && Outputs::<Test>::get(job).is_none());
		assert!(Expiries::<Test>::get(1 + TTL).is_empty());
		System::assert_last_event(Event::OutputTaken { job, requester: ALICE }.into());
		assert_noop!(
			Jobs::take_output(RuntimeOrigin::signed(ALICE), job),
			Error::<Test>::UnknownJob
		);
		// Nothing happens at the old expiry block.
		run_to_block(1 + TTL);
		assert_eq!(Balances::free_balance(ALICE), BALANCE - fee);
	});
}

#[test]
fn fulfil_refuses_what_the_job_or_the_signature_does_not_allow() {
	build_and_execute(|| {
		let job = request_as(ALICE, MAX_FEE, Some(OP));
		let submit = |f: FulfilmentOf<Test>, pair: &sr25519::Pair| {
			let signature = sign(pair, &f);
			Jobs::fulfil(RuntimeOrigin::signed(RELAYER), f, signature)
		};
		assert_noop!(submit(fulfilment(99, OP, b"4", 5), &op_pair()), Error::<Test>::UnknownJob);
		assert_noop!(
			submit(fulfilment(job, OP2, b"4", 5), &op2_pair()),
			Error::<Test>::WrongOperator
		);
		assert_noop!(
			submit(
				FulfilmentOf::<Test> { input_tokens: 0, ..fulfilment(job, OP, b"4", 5) },
				&op_pair()
			),
			Error::<Test>::ZeroInputTokens
		);
		assert_noop!(
			submit(fulfilment(job, OP, b"4", 17), &op_pair()),
			Error::<Test>::TooManyOutputTokens
		);
		assert_noop!(
			submit(fulfilment(job, OP, &[0xc3], 5), &op_pair()),
			Error::<Test>::OutputNotUtf8
		);
		assert_noop!(
			submit(
				FulfilmentOf::<Test> {
					response_hash: H256::zero(),
					..fulfilment(job, OP, b"4", 5)
				},
				&op_pair()
			),
			Error::<Test>::ResponseHashMismatch
		);
		// Signed by another key, or signed over other tokens than submitted.
		assert_noop!(
			submit(fulfilment(job, OP, b"4", 5), &op2_pair()),
			Error::<Test>::BadSignature
		);
		let signed = fulfilment(job, OP, b"4", 5);
		let signature = sign(&op_pair(), &signed);
		let tampered = FulfilmentOf::<Test> { output_tokens: 1, ..signed };
		assert_noop!(
			Jobs::fulfil(RuntimeOrigin::signed(RELAYER), tampered, signature),
			Error::<Test>::BadSignature
		);

		// More tokens than the ceiling pays for: 16 output tokens cost more than a ceiling of 100.
		let cheap = request_as(BOB, 100, None);
		claim(cheap, OP);
		assert_noop!(
			submit(fulfilment(cheap, OP, b"4", 16), &op_pair()),
			Error::<Test>::FeeAboveCeiling
		);

		// An operator that stopped serving.
		MockOperators::remove(OP);
		assert_noop!(
			submit(fulfilment(job, OP, b"4", 5), &op_pair()),
			Error::<Test>::OperatorNotServing
		);
		MockOperators::add(OP, op_pair().public());

		// A revoked adapter is not charged.
		MockAdapters::set_status(ADAPTER, AdapterUse::Revoked);
		assert_noop!(
			submit(fulfilment(job, OP, b"4", 5), &op_pair()),
			Error::<Test>::AdapterRevoked
		);
		MockAdapters::set_status(ADAPTER, AdapterUse::Active);

		assert_ok!(submit(fulfilment(job, OP, b"4", 5), &op_pair()));
		assert_noop!(
			submit(fulfilment(job, OP, b"5", 5), &op_pair()),
			Error::<Test>::AlreadyFulfilled
		);
		assert_noop!(
			Jobs::take_output(RuntimeOrigin::signed(BOB), cheap),
			Error::<Test>::NotFulfilled
		);
	});
}

#[test]
fn a_pending_job_expires_with_everything_refunded() {
	build_and_execute(|| {
		let job = request_as(ALICE, MAX_FEE, None);
		run_to_block(TTL);
		assert!(JobRecords::<Test>::get(job).is_some());
		run_to_block(1 + TTL);
		assert!(JobRecords::<Test>::get(job).is_none());
		assert_eq!(Balances::free_balance(ALICE), BALANCE);
		assert_eq!(held(HoldReason::JobFee, ALICE) + held(HoldReason::JobStorage, ALICE), 0);
		System::assert_last_event(
			Event::JobExpired { job, requester: ALICE, refunded: MAX_FEE }.into(),
		);
		assert!(MockSettlement::calls().is_empty());
		// Too late to answer.
		let f = fulfilment(job, OP, b"4", 5);
		let signature = sign(&op_pair(), &f);
		assert_noop!(
			Jobs::fulfil(RuntimeOrigin::signed(OP), f, signature),
			Error::<Test>::UnknownJob
		);
	});
}

#[test]
fn a_fulfilment_in_the_expiry_block_is_too_late() {
	build_and_execute(|| {
		let job = request_as(ALICE, MAX_FEE, None);
		// The block number moves to the expiry block without its `on_initialize` having run.
		System::set_block_number(1 + TTL);
		let f = fulfilment(job, OP, b"4", 5);
		let signature = sign(&op_pair(), &f);
		assert_noop!(
			Jobs::fulfil(RuntimeOrigin::signed(OP), f, signature),
			Error::<Test>::JobExpired
		);
		System::set_block_number(TTL);
		run_to_block(1 + TTL);
	});
}

#[test]
fn an_untaken_output_expires_and_its_deposit_goes_back() {
	build_and_execute(|| {
		let job = request_as(ALICE, MAX_FEE, None);
		claim(job, OP);
		let f = fulfilment(job, OP, b"The answer is 4.", 6);
		let signature = sign(&op_pair(), &f);
		assert_ok!(Jobs::fulfil(RuntimeOrigin::signed(OP), f, signature));
		let fee = usage_fee(30, 6, PER_1K_IN, PER_1K_OUT).unwrap();
		run_to_block(1 + TTL);
		assert!(JobRecords::<Test>::get(job).is_none() && Outputs::<Test>::get(job).is_none());
		assert_eq!(Balances::free_balance(ALICE), BALANCE - fee);
		System::assert_last_event(Event::OutputExpired { job, requester: ALICE }.into());
	});
}

#[test]
fn many_jobs_across_requesters_keep_the_invariants() {
	build_and_execute(|| {
		let mut fees = 0u128;
		for round in 0..3u32 {
			let a = request_as(ALICE, MAX_FEE, None);
			let b = request_as(BOB, MAX_FEE, Some(OP2));
			claim(a, OP);
			let f = fulfilment(a, OP, b"ok", u64::from(round) + 1);
			let signature = sign(&op_pair(), &f);
			assert_ok!(Jobs::fulfil(RuntimeOrigin::signed(OP), f, signature));
			fees += usage_fee(30, u64::from(round) + 1, PER_1K_IN, PER_1K_OUT).unwrap();
			Jobs::do_try_state().expect("invariants hold mid-way");
			if round == 1 {
				assert_ok!(Jobs::take_output(RuntimeOrigin::signed(ALICE), a));
			}
			assert!(JobRecords::<Test>::get(b).is_some());
			run_to_block(System::block_number() + 1);
		}
		run_to_block(System::block_number() + TTL);
		assert_eq!(JobRecords::<Test>::iter().count(), 0);
		assert_eq!(Balances::free_balance(ALICE), BALANCE - fees);
		assert_eq!(Balances::free_balance(BOB), BALANCE);
		assert_eq!(Balances::free_balance(SINK), ED + fees);
	});
}

#[test]
fn an_open_job_is_fulfilled_only_by_the_operator_holding_a_live_claim() {
	build_and_execute(|| {
		let job = request_as(ALICE, MAX_FEE, None);
		let submit = |f: FulfilmentOf<Test>, pair: &sr25519::Pair| {
			let signature = sign(pair, &f);
			Jobs::fulfil(RuntimeOrigin::signed(RELAYER), f, signature)
		};
		// Nobody has claimed it: no fulfilment is accepted.
		assert_noop!(submit(fulfilment(job, OP, b"4", 5), &op_pair()), Error::<Test>::NotClaimed);

		assert_ok!(Jobs::claim(RuntimeOrigin::signed(OP), job));
		System::assert_last_event(
			Event::JobClaimed { job, operator: OP, until: 1 + CLAIM_PERIOD }.into(),
		);
		// A second operator can neither take the claim nor copy the claimant's answer (seen in
		// the pool) under its own key.
		assert_noop!(Jobs::claim(RuntimeOrigin::signed(OP2), job), Error::<Test>::AlreadyClaimed);
		assert_noop!(Jobs::claim(RuntimeOrigin::signed(OP), job), Error::<Test>::AlreadyClaimed);
		assert_noop!(submit(fulfilment(job, OP2, b"4", 5), &op2_pair()), Error::<Test>::NotClaimed);

		// The claim lapses unfulfilled: the claimant may no longer answer, another may claim.
		System::set_block_number(1 + CLAIM_PERIOD);
		assert_noop!(submit(fulfilment(job, OP, b"4", 5), &op_pair()), Error::<Test>::NotClaimed);
		assert_ok!(Jobs::claim(RuntimeOrigin::signed(OP2), job));
		assert_ok!(submit(fulfilment(job, OP2, b"4", 5), &op2_pair()));
		assert_noop!(Jobs::claim(RuntimeOrigin::signed(OP), job), Error::<Test>::AlreadyFulfilled);

		// Claims are for open jobs, by serving operators, before expiry.
		let named = request_as(BOB, MAX_FEE, Some(OP));
		assert_noop!(Jobs::claim(RuntimeOrigin::signed(OP), named), Error::<Test>::NotOpen);
		let open = request_as(BOB, MAX_FEE, None);
		assert_noop!(
			Jobs::claim(RuntimeOrigin::signed(BOB), open),
			Error::<Test>::OperatorNotServing
		);
		assert_noop!(Jobs::claim(RuntimeOrigin::signed(OP), 99), Error::<Test>::UnknownJob);
		// In its expiry block (before `on_initialize` removes it) it can no longer be claimed.
		let expires_at = JobRecords::<Test>::get(open).expect("pending").expires_at;
		run_to_block(expires_at - 1);
		System::set_block_number(expires_at);
		assert_noop!(Jobs::claim(RuntimeOrigin::signed(OP), open), Error::<Test>::JobExpired);
		System::set_block_number(expires_at - 1);
		run_to_block(expires_at);
	});
}

#[test]
fn token_counts_are_bounded_by_the_prompt_and_the_output_bytes() {
	build_and_execute(|| {
		// A job allowing 64 output tokens for a 14-byte prompt.
		let id = NextJobId::<Test>::get();
		assert_ok!(Jobs::request(
			RuntimeOrigin::signed(ALICE),
			ADAPTER,
			prompt(PROMPT),
			64,
			SamplingParams::greedy(),
			MAX_FEE,
			TTL,
			Some(OP),
		));
		let submit = |f: FulfilmentOf<Test>| {
			let signature = sign(&op_pair(), &f);
			Jobs::fulfil(RuntimeOrigin::signed(RELAYER), f, signature)
		};
		let most_input = PROMPT.len() as u64 + u64::from(OVERHEAD_TOKENS);
		assert_eq!(most_input, 30);
		// An empty answer cannot claim more than the overhead in output tokens, nor a short
		// prompt more than its bytes and the overhead in input tokens.
		assert_noop!(
			submit(fulfilment(id, OP, b"", u64::from(OVERHEAD_TOKENS) + 1)),
			Error::<Test>::TooManyOutputTokens
		);
		assert_noop!(
			submit(FulfilmentOf::<Test> {
				input_tokens: most_input + 1,
				..fulfilment(id, OP, b"4", 5)
			}),
			Error::<Test>::TooManyInputTokens
		);
		assert_noop!(
			submit(FulfilmentOf::<Test> { input_tokens: u64::MAX, ..fulfilment(id, OP, b"4", 5) }),
			Error::<Test>::TooManyInputTokens
		);
		// At both bounds exactly, it is accepted.
		assert_ok!(submit(FulfilmentOf::<Test> {
			input_tokens: most_input,
			..fulfilment(id, OP, b"", u64::from(OVERHEAD_TOKENS))
		}));
	});
}

#[test]
fn integrity_test_works() {
	new_test_ext().execute_with(|| {
		<Jobs as polkadot_sdk::frame_support::traits::Hooks<u32>>::integrity_test();
	});
}

// ---- the answer's attribution ----

/// `percent` of the answer credited to `who`'s records in version 1 of datanet `datanet`.
fn matched(datanet: u32, who: u64, percent: u32) -> RecordMatch<u64> {
	RecordMatch {
		datanet,
		version: 1,
		contributor: who,
		share: polkadot_sdk::sp_runtime::Perbill::from_percent(percent),
	}
}

#[test]
fn fulfil_passes_the_answers_matches_to_settlement_works() {
	build_and_execute(|| {
		let job = request_as(ALICE, MAX_FEE, None);
		claim(job, OP);
		let f = FulfilmentOf::<Test> {
			matched: vec![matched(1, BOB, 60), matched(2, POOR, 30)],
			..fulfilment(job, OP, b"4", 5)
		};
		let signature = sign(&op_pair(), &f);
		assert_ok!(Jobs::fulfil(RuntimeOrigin::signed(RELAYER), f, signature));
		let share = |datanet, who, percent| MatchedShare {
			adapter: ADAPTER,
			datanet,
			version: 1,
			contributor: who,
			share: polkadot_sdk::sp_runtime::Perbill::from_percent(percent),
		};
		assert_eq!(MockSettlement::matched(), vec![vec![share(1, BOB, 60), share(2, POOR, 30)]]);
	});
}

#[test]
fn fulfil_with_malformed_matches_fails() {
	build_and_execute(|| {
		let job = request_as(ALICE, MAX_FEE, None);
		claim(job, OP);
		let refused = |m: Vec<RecordMatch<u64>>, error: Error<Test>| {
			let f = FulfilmentOf::<Test> { matched: m, ..fulfilment(job, OP, b"4", 5) };
			let signature = sign(&op_pair(), &f);
			assert_noop!(Jobs::fulfil(RuntimeOrigin::signed(RELAYER), f, signature), error);
		};
		refused(vec![matched(2, BOB, 10), matched(1, BOB, 10)], Error::<Test>::MatchedNotSorted);
		refused(vec![matched(1, BOB, 10), matched(1, BOB, 10)], Error::<Test>::MatchedNotSorted);
		refused(vec![matched(1, BOB, 0)], Error::<Test>::ZeroMatchedShare);
		refused(vec![matched(1, BOB, 60), matched(2, BOB, 41)], Error::<Test>::MatchedOverWhole);
		refused(
			(0..u64::from(MAX_MATCHED) + 1).map(|i| matched(1, 100 + i, 1)).collect(),
			Error::<Test>::TooManyMatched,
		);
		// Matches are signed: a relayer cannot add one.
		let f = fulfilment(job, OP, b"4", 5);
		let signature = sign(&op_pair(), &f);
		let added = FulfilmentOf::<Test> { matched: vec![matched(1, RELAYER, 50)], ..f };
		assert_noop!(
			Jobs::fulfil(RuntimeOrigin::signed(RELAYER), added, signature),
			Error::<Test>::BadSignature
		);
	});
}
