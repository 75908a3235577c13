//! Unit tests on the mock runtime (with the real datanet and model registries).

use crate::{
	mock::{Attribution, Datanets, *},
	*,
};
use lineage_primitives::{DatanetVersionRef, ModelId};
use pallet_datanets::ContributionPolicy::{Curated, Open};
use polkadot_sdk::{
	frame_support::{
		assert_noop, assert_ok,
		traits::{fungible::Mutate, Hooks},
		BoundedVec,
	},
	sp_runtime::{BuildStorage, DispatchError, DispatchResult, TokenError},
	sp_weights::Weight,
};

type Error = crate::Error<Test>;
type Event = crate::Event<Test>;

/// A datanet where Eve has weight 300 and Fred 100, its first version, a model of Bob's and an
/// adapter of Carol's trained on that version alone.
struct World {
	d0: DatanetId,
	v0: DatanetVersionRef,
	model: ModelId,
	adapter: AdapterId,
}

fn world() -> World {
	let d0 = new_datanet(Open);
	contribute(d0, EVE, 300);
	contribute(d0, FRED, 100);
	let v0 = freeze(d0);
	let model = new_model(BOB);
	let adapter = new_adapter(CAROL, model, vec![(v0, Perbill::one())]);
	World { d0, v0, model, adapter }
}

/// Settles `fees` from [`SOURCE`] with [`DAVE`] as operator.
fn settle(fees: &[(AdapterId, u128)]) -> DispatchResult {
	<Attribution as SettleFees<u64, u128>>::settle(&SOURCE, &DAVE, fees)
}

fn pool(datanet: DatanetId) -> Pool<u128> {
	Pools::<Test>::get(datanet)
}

fn pending(who: u64) -> Vec<(DatanetId, u128)> {
	Attribution::pending_rewards(&who).datanets
}

fn policy(author: u32, base_owner: u32, datanets: u32, operator: u32, treasury: u32) -> FeePolicy {
	FeePolicy {
		author: Perbill::from_percent(author),
		base_owner: Perbill::from_percent(base_owner),
		datanets: Perbill::from_percent(datanets),
		operator: Perbill::from_percent(operator),
		treasury: Perbill::from_percent(treasury),
	}
}

// ---- genesis and policy ----

#[test]
fn genesis_works() {
	build_and_execute(|| {
		assert_eq!(Attribution::policy(), FeePolicy::default());
		assert_eq!(Attribution::policy(), policy(40, 15, 30, 10, 5));
		assert!(FeePolicy::default().is_whole());
		// The pot and the treasury exist with the existential deposit and our provider.
		assert_eq!(free(pot()), ED);
		assert_eq!(free(TREASURY), ED);
		assert!(System::providers(&pot()) >= 2);
		assert!(System::providers(&TREASURY) >= 2);
		assert_ne!(pot(), TREASURY);
	});
}

#[test]
#[should_panic(expected = "the genesis fee-split policy must sum to 100%")]
fn genesis_partial_policy_fails() {
	let _ = GenesisConfig::<Test> { policy: policy(40, 15, 30, 10, 4), ..Default::default() }
		.build_storage();
}

#[test]
fn fee_policy_split_works() {
	let p = FeePolicy::default();
	assert_eq!(
		p.split(1_000u128),
		FeeShares {
			author: 400,
			base_owner: 150,
			datanets: 300,
			operator: 100,
			treasury: 50,
			dust: 0
		}
	);
	assert_eq!(
		p.split(7u128),
		FeeShares { author: 2, base_owner: 1, datanets: 2, operator: 0, treasury: 0, dust: 2 }
	);
	for fee in [0u128, 1, 3, 19, 999, 1_000_003, u128::MAX / 3, u128::MAX] {
		let s = p.split(fee);
		let sum = [s.author, s.base_owner, s.datanets, s.operator, s.treasury, s.dust]
			.iter()
			.fold(0u128, |a, b| a.checked_add(*b).expect("no overflow"));
		assert_eq!(sum, fee);
		// Each share is rounded down, so the dust is below one unit per share.
		assert!(s.dust < 5);
	}
	assert!(policy(100, 0, 0, 0, 0).is_whole());
	assert!(!policy(40, 15, 30, 10, 4).is_whole());
	assert!(!policy(100, 100, 100, 100, 100).is_whole());
}

#[test]
fn set_policy_works() {
	build_and_execute(|| {
		let new = policy(50, 10, 30, 5, 5);
		assert_ok!(Attribution::set_policy(RuntimeOrigin::root(), new));
		assert_eq!(Attribution::policy(), new);
		System::assert_has_event(Event::PolicySet { policy: new }.into());

		// It applies to the next settlement.
		let w = world();
		assert_ok!(settle(&[(w.adapter, 1_000)]));
		System::assert_has_event(
			Event::FeesSplit {
				adapter: w.adapter,
				fee: 1_000,
				author: 500,
				base_owner: 100,
				datanets: 300,
				operator: 50,
				treasury: 50,
			}
			.into(),
		);
	});
}

#[test]
fn set_policy_not_whole_fails() {
	build_and_execute(|| {
		assert_noop!(
			Attribution::set_policy(RuntimeOrigin::root(), policy(40, 15, 30, 10, 4)),
			Error::PolicyNotWhole
		);
		assert_noop!(
			Attribution::set_policy(RuntimeOrigin::root(), policy(40, 15, 30, 10, 6)),
			Error::PolicyNotWhole
		);
		let mut almost = FeePolicy::default();
		almost.treasury = Perbill::from_parts(almost.treasury.deconstruct() - 1);
		assert_noop!(Attribution::set_policy(RuntimeOrigin::root(), almost), Error::PolicyNotWhole);
	});
}

#[test]
fn set_policy_bad_origin_fails() {
	build_and_execute(|| {
		assert_noop!(
			Attribution::set_policy(RuntimeOrigin::signed(ALICE), FeePolicy::default()),
			DispatchError::BadOrigin
		);
		assert_noop!(
			Attribution::set_policy(RuntimeOrigin::none(), FeePolicy::default()),
			DispatchError::BadOrigin
		);
	});
}

// ---- settle ----

#[test]
fn settle_splits_known_fee_works() {
	build_and_execute(|| {
		let w = world();
		let source = free(SOURCE);
		let treasury = free(TREASURY);
		assert_ok!(settle(&[(w.adapter, 1_000)]));

		System::assert_has_event(
			Event::FeesSplit {
				adapter: w.adapter,
				fee: 1_000,
				author: 400,
				base_owner: 150,
				datanets: 300,
				operator: 100,
				treasury: 50,
			}
			.into(),
		);
		assert_eq!(free(SOURCE), source - 1_000);
		assert_eq!(free(TREASURY), treasury + 50);
		assert_eq!(free(pot()), ED + 950);
		assert_eq!(Credits::<Test>::get(CAROL, Role::Author), 400);
		assert_eq!(Credits::<Test>::get(BOB, Role::BaseOwner), 150);
		assert_eq!(Credits::<Test>::get(DAVE, Role::Operator), 100);
		assert_eq!(pool(w.d0), Pool { reward_per_weight: 300 * PRECISION / 400, balance: 300 });
		// No dust: no dust event.
		assert_eq!(TotalDust::<Test>::get(), 0);
		assert!(!System::events()
			.iter()
			.any(|r| matches!(r.event, RuntimeEvent::Attribution(Event::DustCollected { .. }))));
		// Eve has 3/4 of the weight, Fred 1/4.
		assert_eq!(pending(EVE), vec![(w.d0, 225)]);
		assert_eq!(pending(FRED), vec![(w.d0, 75)]);
	});
}

#[test]
fn settle_rounding_dust_works() {
	build_and_execute(|| {
		let w = world();
		let treasury = free(TREASURY);
		// 7 × (40%, 15%, 30%, 10%, 5%) rounded down: 2, 1, 2, 0, 0; 2 left.
		assert_ok!(settle(&[(w.adapter, 7)]));
		System::assert_has_event(
			Event::FeesSplit {
				adapter: w.adapter,
				fee: 7,
				author: 2,
				base_owner: 1,
				datanets: 2,
				operator: 0,
				treasury: 2,
			}
			.into(),
		);
		System::assert_has_event(Event::DustCollected { amount: 2 }.into());
		assert_eq!(TotalDust::<Test>::get(), 2);
		assert_eq!(free(TREASURY), treasury + 2);
		// A zero share is not credited.
		assert!(!Credits::<Test>::contains_key(DAVE, Role::Operator));

		assert_ok!(settle(&[(w.adapter, 7), (w.adapter, 7)]));
		System::assert_has_event(Event::DustCollected { amount: 4 }.into());
		assert_eq!(TotalDust::<Test>::get(), 6);
	});
}

#[test]
fn settle_multi_version_works() {
	build_and_execute(|| {
		let w = world();
		// A second version of d0 (Gina joins it), and a second datanet.
		contribute(w.d0, GINA, 100);
		let v0b = freeze(w.d0);
		let d1 = new_datanet(Open);
		contribute(d1, FRED, 50);
		let v1 = freeze(d1);
		let adapter = new_adapter(
			CAROL,
			w.model,
			vec![
				(w.v0, Perbill::from_percent(30)),
				(v0b, Perbill::from_percent(20)),
				(v1, Perbill::from_percent(50)),
			],
		);
		assert_ok!(settle(&[(adapter, 10_000)]));
		// 3,000 to the datanets: 900 + 600 to d0 (one pool), 1,500 to d1.
		System::assert_has_event(
			Event::FeesSplit {
				adapter,
				fee: 10_000,
				author: 4_000,
				base_owner: 1_500,
				datanets: 3_000,
				operator: 1_000,
				treasury: 500,
			}
			.into(),
		);
		assert_eq!(pool(w.d0).balance, 1_500);
		assert_eq!(pool(d1).balance, 1_500);
		// d0 weighs 500: Eve 300, Fred 100, Gina 100. d1: Fred alone.
		assert_eq!(pending(EVE), vec![(w.d0, 900)]);
		assert_eq!(pending(FRED), vec![(w.d0, 300), (d1, 1_500)]);
		assert_eq!(pending(GINA), vec![(w.d0, 300)]);
	});
}

#[test]
fn settle_multi_version_rounding_works() {
	build_and_execute(|| {
		let w = world();
		let d1 = new_datanet(Open);
		contribute(d1, EVE, 10);
		let v1 = freeze(d1);
		let d2 = new_datanet(Open);
		contribute(d2, EVE, 10);
		let v2 = freeze(d2);
		// 333_333_334, 333_333_333, 333_333_333 parts per billion.
		let adapter = new_adapter(CAROL, w.model, even_training(&[w.v0, v1, v2]));
		assert_ok!(settle(&[(adapter, 1_000)]));
		// 300 to the datanets: 100, 99, 99; 2 is dust.
		assert_eq!(pool(w.d0).balance, 100);
		assert_eq!(pool(d1).balance, 99);
		assert_eq!(pool(d2).balance, 99);
		System::assert_has_event(
			Event::FeesSplit {
				adapter,
				fee: 1_000,
				author: 400,
				base_owner: 150,
				datanets: 298,
				operator: 100,
				treasury: 52,
			}
			.into(),
		);
		System::assert_has_event(Event::DustCollected { amount: 2 }.into());
	});
}

#[test]
fn settle_several_adapters_works() {
	build_and_execute(|| {
		let w = world();
		// Bob's own adapter on his model: he is author and base owner.
		let own = new_adapter(BOB, w.model, vec![(w.v0, Perbill::one())]);
		let source = free(SOURCE);
		assert_ok!(settle(&[(w.adapter, 1_000), (own, 2_000), (w.adapter, 10)]));
		assert_eq!(free(SOURCE), source - 3_010);
		assert_eq!(Credits::<Test>::get(CAROL, Role::Author), 400 + 4);
		assert_eq!(Credits::<Test>::get(BOB, Role::Author), 800);
		assert_eq!(Credits::<Test>::get(BOB, Role::BaseOwner), 150 + 300 + 1);
		assert_eq!(Credits::<Test>::get(DAVE, Role::Operator), 100 + 200 + 1);
		assert_eq!(pool(w.d0).balance, 300 + 600 + 3);
		let splits = System::events()
			.iter()
			.filter(|r| matches!(r.event, RuntimeEvent::Attribution(Event::FeesSplit { .. })))
			.count();
		assert_eq!(splits, 3);
		// 10: 4, 1, 3, 1, 0 and 1 of dust.
		System::assert_has_event(Event::DustCollected { amount: 1 }.into());
	});
}

#[test]
fn settle_unknown_adapter_fails() {
	build_and_execute(|| {
		let w = world();
		assert_noop!(settle(&[(99, 100)]), Error::UnknownAdapter);
		// All or nothing: the known adapter's fee is not settled either.
		assert_noop!(settle(&[(w.adapter, 100), (99, 10)]), Error::UnknownAdapter);
	});
}

#[test]
fn settle_source_cannot_pay_fails() {
	build_and_execute(|| {
		let w = world();
		assert_noop!(
			<Attribution as SettleFees<u64, u128>>::settle(&NOBODY, &DAVE, &[(w.adapter, 100)]),
			TokenError::FundsUnavailable
		);
		// The source keeps its existential deposit.
		Balances::set_balance(&SOURCE, 1_000);
		assert_noop!(settle(&[(w.adapter, 995)]), TokenError::NotExpendable);
		assert_ok!(settle(&[(w.adapter, 990)]));
		assert_eq!(free(SOURCE), ED);
	});
}

#[test]
fn settle_overflow_fails() {
	build_and_execute(|| {
		let w = world();
		assert_noop!(settle(&[(w.adapter, u128::MAX), (w.adapter, 1)]), Error::Overflow);
	});
}

#[test]
fn settle_is_all_or_nothing_works() {
	build_and_execute(|| {
		let w = world();
		// The treasury is emptied: it cannot receive less than the existential deposit, so the
		// treasury's transfer, the last step, fails; the pot's transfer and the pool and credit
		// writes before it are undone.
		Balances::set_balance(&TREASURY, 0);
		assert_noop!(settle(&[(w.adapter, 100)]), TokenError::BelowMinimum);
		// With enough for the treasury, the same settlement goes through.
		assert_ok!(settle(&[(w.adapter, 200)]));
		assert_eq!(free(TREASURY), 10);
	});
}

#[test]
fn settle_without_training_sends_datanet_share_to_treasury_works() {
	build_and_execute(|| {
		let w = world();
		// Another model registry could report an adapter without training versions.
		pallet_models::Adapters::<Test>::mutate(w.adapter, |a| {
			if let Some(a) = a {
				a.training = BoundedVec::default();
			}
		});
		let treasury = free(TREASURY);
		assert_ok!(settle(&[(w.adapter, 1_000)]));
		System::assert_has_event(
			Event::FeesSplit {
				adapter: w.adapter,
				fee: 1_000,
				author: 400,
				base_owner: 150,
				datanets: 0,
				operator: 100,
				treasury: 350,
			}
			.into(),
		);
		assert_eq!(free(TREASURY), treasury + 350);
		assert_eq!(TotalDust::<Test>::get(), 0);
		assert!(!Pools::<Test>::contains_key(w.d0));
	});
}

#[test]
fn settle_weightless_datanet_goes_to_treasury_works() {
	build_and_execute(|| {
		let w = world();
		// A curated datanet whose only contribution weighs 1 × 10 / 100 = 0.
		let d1 = new_datanet(Curated);
		contribute_curated(d1, EVE, 1, 10);
		let v1 = freeze(d1);
		assert_eq!(Datanets::total_weight(d1), 0);
		let adapter = new_adapter(
			CAROL,
			w.model,
			vec![(w.v0, Perbill::from_percent(50)), (v1, Perbill::from_percent(50))],
		);
		assert_ok!(settle(&[(adapter, 1_000)]));
		System::assert_has_event(
			Event::FeesSplit {
				adapter,
				fee: 1_000,
				author: 400,
				base_owner: 150,
				datanets: 150,
				operator: 100,
				treasury: 200,
			}
			.into(),
		);
		assert_eq!(pool(w.d0).balance, 150);
		assert!(!Pools::<Test>::contains_key(d1));
		assert_eq!(pending(EVE), vec![(w.d0, 112)]);
	});
}

#[test]
fn settle_empty_and_zero_fee_works() {
	build_and_execute(|| {
		let w = world();
		System::reset_events();
		assert_ok!(settle(&[]));
		assert!(System::events().is_empty());
		let source = free(SOURCE);
		assert_ok!(settle(&[(w.adapter, 0)]));
		System::assert_has_event(
			Event::FeesSplit {
				adapter: w.adapter,
				fee: 0,
				author: 0,
				base_owner: 0,
				datanets: 0,
				operator: 0,
				treasury: 0,
			}
			.into(),
		);
		assert_eq!(free(SOURCE), source);
		assert_eq!(Credits::<Test>::iter().count(), 0);
	});
}

#[test]
fn settle_weight_works() {
	let one = <() as crate::weights::WeightInfo>::settle_adapter(MAX_TRAINING);
	assert_eq!(<Attribution as SettleFees<u64, u128>>::settle_weight(0), Weight::zero());
	assert_eq!(<Attribution as SettleFees<u64, u128>>::settle_weight(1), one);
	assert_eq!(<Attribution as SettleFees<u64, u128>>::settle_weight(3), one.saturating_mul(3));
	assert!(one.all_gt(<() as crate::weights::WeightInfo>::settle_adapter(1)));
}

// ---- claim ----

#[test]
fn claim_works() {
	build_and_execute(|| {
		let w = world();
		assert_ok!(settle(&[(w.adapter, 1_000)]));
		let eve = free(EVE);
		assert_ok!(Attribution::claim(RuntimeOrigin::signed(EVE), w.d0));
		System::assert_has_event(
			Event::RewardClaimed { who: EVE, datanet: w.d0, amount: 225 }.into(),
		);
		assert_eq!(free(EVE), eve + 225);
		assert_eq!(pool(w.d0).balance, 75);
		assert_eq!(
			Checkpoints::<Test>::get(EVE, w.d0),
			Some(Checkpoint { paid_per_weight: pool(w.d0).reward_per_weight, unclaimed: 0 })
		);
		assert_eq!(pending(EVE), vec![]);
		assert_noop!(Attribution::claim(RuntimeOrigin::signed(EVE), w.d0), Error::NothingToClaim);
		assert_ok!(Attribution::claim(RuntimeOrigin::signed(FRED), w.d0));
		assert_eq!(pool(w.d0).balance, 0);
	});
}

#[test]
fn claim_nothing_fails() {
	build_and_execute(|| {
		let w = world();
		// Nothing settled yet.
		assert_noop!(Attribution::claim(RuntimeOrigin::signed(EVE), w.d0), Error::NothingToClaim);
		assert_ok!(settle(&[(w.adapter, 1_000)]));
		// No weight in the datanet, or no such datanet.
		assert_noop!(Attribution::claim(RuntimeOrigin::signed(GINA), w.d0), Error::NothingToClaim);
		assert_noop!(Attribution::claim(RuntimeOrigin::signed(EVE), 42), Error::NothingToClaim);
		assert_noop!(Attribution::claim(RuntimeOrigin::none(), w.d0), DispatchError::BadOrigin);
	});
}

#[test]
fn late_joiner_gets_no_earlier_rewards_works() {
	build_and_execute(|| {
		let w = world();
		assert_ok!(settle(&[(w.adapter, 1_000)]));
		// Gina joins after 300 entered the pool: as heavy as everyone before her together.
		contribute(w.d0, GINA, 400);
		assert_eq!(
			Checkpoints::<Test>::get(GINA, w.d0),
			Some(Checkpoint { paid_per_weight: pool(w.d0).reward_per_weight, unclaimed: 0 })
		);
		assert_eq!(pending(GINA), vec![]);
		assert_noop!(Attribution::claim(RuntimeOrigin::signed(GINA), w.d0), Error::NothingToClaim);
		// The earlier contributors' rewards are untouched by her joining.
		assert_eq!(pending(EVE), vec![(w.d0, 225)]);
		assert_eq!(pending(FRED), vec![(w.d0, 75)]);

		// The next 300 is shared by weight 800: Gina 150, Eve 112.5, Fred 37.5 (rounded down).
		assert_ok!(settle(&[(w.adapter, 1_000)]));
		assert_eq!(pending(GINA), vec![(w.d0, 150)]);
		assert_eq!(pending(EVE), vec![(w.d0, 337)]);
		assert_eq!(pending(FRED), vec![(w.d0, 112)]);
		for who in [EVE, FRED, GINA] {
			assert_ok!(Attribution::claim(RuntimeOrigin::signed(who), w.d0));
		}
		// One unit of rounding stays in the pool.
		assert_eq!(pool(w.d0).balance, 1);
	});
}

#[test]
fn weight_growth_keeps_earlier_rewards_works() {
	build_and_execute(|| {
		let w = world();
		assert_ok!(settle(&[(w.adapter, 1_000)]));
		// Eve doubles her weight: her 225 earned at 300 is checkpointed.
		contribute(w.d0, EVE, 300);
		let acc = pool(w.d0).reward_per_weight;
		assert_eq!(
			Checkpoints::<Test>::get(EVE, w.d0),
			Some(Checkpoint { paid_per_weight: acc, unclaimed: 225 })
		);
		assert_eq!(pending(EVE), vec![(w.d0, 225)]);
		// The next 300 is shared by weight 700: Eve 600/700 of it.
		assert_ok!(settle(&[(w.adapter, 1_000)]));
		assert_eq!(pending(EVE), vec![(w.d0, 225 + 257)]);
		assert_eq!(pending(FRED), vec![(w.d0, 117)]);
		assert_ok!(Attribution::claim(RuntimeOrigin::signed(EVE), w.d0));
		System::assert_has_event(
			Event::RewardClaimed { who: EVE, datanet: w.d0, amount: 482 }.into(),
		);
	});
}

#[test]
fn claims_after_several_settlements_works() {
	build_and_execute(|| {
		let w = world();
		let (eve, fred) = (free(EVE), free(FRED));
		assert_ok!(settle(&[(w.adapter, 1_000)]));
		assert_ok!(settle(&[(w.adapter, 2_000)]));
		assert_ok!(Attribution::claim(RuntimeOrigin::signed(FRED), w.d0));
		assert_ok!(settle(&[(w.adapter, 3_000), (w.adapter, 4_000)]));
		assert_ok!(Attribution::claim(RuntimeOrigin::signed(EVE), w.d0));
		assert_ok!(Attribution::claim(RuntimeOrigin::signed(FRED), w.d0));
		// 3,000 to the pool in all: Eve 3/4, Fred 1/4, claimed in one go and in two.
		assert_eq!(free(EVE), eve + 2_250);
		assert_eq!(free(FRED), fred + 750);
		assert_eq!(pool(w.d0).balance, 0);
		assert_noop!(Attribution::claim(RuntimeOrigin::signed(FRED), w.d0), Error::NothingToClaim);
	});
}

#[test]
fn claim_to_new_account_works() {
	build_and_execute(|| {
		let w = world();
		// Nobody (no balance) contributes 1 of 401: its reward must reach the existential
		// deposit before it can be paid.
		contribute(w.d0, NOBODY, 1);
		assert_ok!(settle(&[(w.adapter, 4_000)]));
		assert_eq!(pending(NOBODY), vec![(w.d0, 2)]);
		assert_noop!(
			Attribution::claim(RuntimeOrigin::signed(NOBODY), w.d0),
			TokenError::BelowMinimum
		);
		assert_ok!(settle(&[(w.adapter, 20_000)]));
		assert_eq!(pending(NOBODY), vec![(w.d0, 17)]);
		assert_ok!(Attribution::claim(RuntimeOrigin::signed(NOBODY), w.d0));
		assert_eq!(free(NOBODY), 17);
	});
}

// ---- claim_credits ----

#[test]
fn claim_credits_works() {
	build_and_execute(|| {
		let w = world();
		assert_ok!(settle(&[(w.adapter, 1_000)]));
		for (who, amount) in [(CAROL, 400), (BOB, 150), (DAVE, 100)] {
			let before = free(who);
			assert_ok!(Attribution::claim_credits(RuntimeOrigin::signed(who)));
			System::assert_has_event(Event::CreditsClaimed { who, amount }.into());
			assert_eq!(free(who), before + amount);
			assert_noop!(
				Attribution::claim_credits(RuntimeOrigin::signed(who)),
				Error::NothingToClaim
			);
		}
		assert_eq!(Credits::<Test>::iter().count(), 0);
	});
}

#[test]
fn claim_credits_of_several_roles_works() {
	build_and_execute(|| {
		let w = world();
		// Bob authors an adapter on his own model and operates it.
		let own = new_adapter(BOB, w.model, vec![(w.v0, Perbill::one())]);
		assert_ok!(<Attribution as SettleFees<u64, u128>>::settle(&SOURCE, &BOB, &[(own, 1_000)]));
		let pending = Attribution::pending_rewards(&BOB);
		assert_eq!(
			(pending.as_author, pending.as_base_owner, pending.as_operator),
			(400, 150, 100)
		);
		let before = free(BOB);
		assert_ok!(Attribution::claim_credits(RuntimeOrigin::signed(BOB)));
		System::assert_has_event(Event::CreditsClaimed { who: BOB, amount: 650 }.into());
		assert_eq!(free(BOB), before + 650);
		assert_eq!(Attribution::pending_rewards(&BOB), PendingRewards::default());
	});
}

#[test]
fn claim_credits_nothing_fails() {
	build_and_execute(|| {
		assert_noop!(Attribution::claim_credits(RuntimeOrigin::signed(EVE)), Error::NothingToClaim);
		assert_noop!(Attribution::claim_credits(RuntimeOrigin::root()), DispatchError::BadOrigin);
	});
}

#[test]
fn claim_credits_below_existential_deposit_fails() {
	build_and_execute(|| {
		let w = world();
		// Nobody operates: 10% of 50 is 5, below the existential deposit of a new account.
		assert_ok!(<Attribution as SettleFees<u64, u128>>::settle(
			&SOURCE,
			&NOBODY,
			&[(w.adapter, 50)]
		));
		assert_noop!(
			Attribution::claim_credits(RuntimeOrigin::signed(NOBODY)),
			TokenError::BelowMinimum
		);
		assert_eq!(Credits::<Test>::get(NOBODY, Role::Operator), 5);
	});
}

// ---- reading ----

#[test]
fn pending_rewards_works() {
	build_and_execute(|| {
		let w = world();
		let d1 = new_datanet(Open);
		contribute(d1, EVE, 10);
		contribute(d1, GINA, 30);
		let v1 = freeze(d1);
		let adapter = new_adapter(
			EVE,
			w.model,
			vec![(w.v0, Perbill::from_percent(50)), (v1, Perbill::from_percent(50))],
		);
		assert_ok!(settle(&[(adapter, 2_000)]));
		// 600 to the datanets, 300 each: Eve 225 of d0 and 75 of d1; she is also the author.
		assert_eq!(
			Attribution::pending_rewards(&EVE),
			PendingRewards {
				datanets: vec![(w.d0, 225), (d1, 75)],
				as_author: 800,
				as_base_owner: 0,
				as_operator: 0
			}
		);
		// A datanet with nothing to claim is left out; the part not yet checkpointed counts.
		assert_ok!(Attribution::claim(RuntimeOrigin::signed(EVE), d1));
		assert_eq!(pending(EVE), vec![(w.d0, 225)]);
		contribute(d1, EVE, 40);
		assert_ok!(settle(&[(adapter, 2_000)]));
		// d1 weighs 80 now, Eve 50 of it: 300 × 50 / 80 = 187.5.
		assert_eq!(pending(EVE), vec![(w.d0, 450), (d1, 187)]);
		assert_eq!(Attribution::pending_rewards(&NOBODY), PendingRewards::default());
	});
}

#[test]
fn on_weight_change_works() {
	build_and_execute(|| {
		let w = world();
		assert_ok!(settle(&[(w.adapter, 1_000)]));
		// Checkpointing at the current weight moves the earnings into `unclaimed` only.
		<Attribution as OnContributorWeightChange<u64>>::on_weight_change(w.d0, &FRED, 100);
		assert_eq!(
			Checkpoints::<Test>::get(FRED, w.d0),
			Some(Checkpoint { paid_per_weight: pool(w.d0).reward_per_weight, unclaimed: 75 })
		);
		assert_eq!(pending(FRED), vec![(w.d0, 75)]);
		// A first weight in a datanet without a pool starts at zero.
		<Attribution as OnContributorWeightChange<u64>>::on_weight_change(7, &GINA, 0);
		assert_eq!(Checkpoints::<Test>::get(GINA, 7), Some(Checkpoint::default()));
	});
}

// ---- hooks and invariants ----

#[test]
fn integrity_test_works() {
	new_test_ext().execute_with(|| {
		<Attribution as Hooks<u32>>::integrity_test();
	});
}

#[test]
fn do_try_state_broken_state_fails() {
	new_test_ext().execute_with(|| {
		let w = world();
		assert_ok!(settle(&[(w.adapter, 1_000)]));
		assert_ok!(Attribution::do_try_state());

		// A pool that promises more than it holds.
		let honest = Checkpoints::<Test>::get(EVE, w.d0).expect("Eve contributed");
		Checkpoints::<Test>::insert(EVE, w.d0, Checkpoint { unclaimed: 76, ..honest });
		assert!(Attribution::do_try_state().is_err());
		Checkpoints::<Test>::insert(EVE, w.d0, honest);
		assert_ok!(Attribution::do_try_state());

		// A checkpoint ahead of its pool.
		Checkpoints::<Test>::insert(
			EVE,
			w.d0,
			Checkpoint { paid_per_weight: u128::MAX, unclaimed: 0 },
		);
		assert!(Attribution::do_try_state().is_err());
		Checkpoints::<Test>::insert(EVE, w.d0, honest);

		// A pot that does not cover what it owes.
		Credits::<Test>::insert(EVE, Role::Author, 1);
		assert!(Attribution::do_try_state().is_err());
		Credits::<Test>::remove(EVE, Role::Author);
		assert_ok!(Attribution::do_try_state());

		// A zero credit, and a partial policy.
		Credits::<Test>::insert(EVE, Role::Author, 0);
		assert!(Attribution::do_try_state().is_err());
		Credits::<Test>::remove(EVE, Role::Author);
		Policy::<Test>::put(policy(40, 15, 30, 10, 4));
		assert!(Attribution::do_try_state().is_err());
	});
}

#[test]
fn genesis_config_json_works() {
	use polkadot_sdk::frame_support::__private::serde_json;
	// The shape a genesis preset writes (parts of a billion).
	let json = r#"{"policy":{"author":400000000,"baseOwner":150000000,"datanets":300000000,"operator":100000000,"treasury":50000000}}"#;
	let config: GenesisConfig<Test> = serde_json::from_str(json).expect("the JSON decodes");
	assert_eq!(config.policy, FeePolicy::default());
	assert_eq!(serde_json::to_string(&GenesisConfig::<Test>::default()).expect("encodes"), json);
}
