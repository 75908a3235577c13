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

/// A datanet where Eve froze weight 300 and Fred 100 in version 1, a model of Bob's and an
/// adapter of Carol's trained on that version alone.
struct World {
	d0: DatanetId,
	v1: DatanetVersionRef,
	model: ModelId,
	adapter: AdapterId,
}

fn world() -> World {
	let d0 = new_datanet(Open);
	contribute(d0, EVE, 300);
	contribute(d0, FRED, 100);
	let v1 = freeze(d0);
	assert_eq!(v1.version, 1);
	let model = new_model(BOB);
	let adapter = new_adapter(CAROL, model, vec![(v1, Perbill::one())]);
	World { d0, v1, model, adapter }
}

/// Settles `fees` from [`SOURCE`] with [`DAVE`] as operator.
fn settle(fees: &[(AdapterId, u128)]) -> DispatchResult {
	<Attribution as SettleFees<u64, u128>>::settle(&SOURCE, &DAVE, fees, &[])
}

/// `who` claims its reward for `version` of `datanet`.
fn claim(who: u64, datanet: DatanetId, version: VersionId) -> DispatchResult {
	Attribution::claim(RuntimeOrigin::signed(who), datanet, version)
}

fn pool(datanet: DatanetId) -> Pool<u128> {
	Pools::<Test>::get(datanet)
}

fn pending(who: u64) -> Vec<(DatanetId, VersionId, u128)> {
	Attribution::pending_rewards(&who).versions
}

fn policy(author: u32, base_owner: u32, datanets: u32, operator: u32, treasury: u32) -> FeePolicy {
	FeePolicy {
		author: Perbill::from_percent(author),
		base_owner: Perbill::from_percent(base_owner),
		datanets: Perbill::from_percent(datanets),
		operator: Perbill::from_percent(operator),
		treasury: Perbill::from_percent(treasury),
		matched: Perbill::from_percent(50),
	}
}

/// `part × PRECISION / weight`, rounded down: what a part adds to a version's reward per weight.
fn per_weight(part: u128, weight: u128) -> u128 {
	part * PRECISION / weight
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
				matched: 0,
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
				matched: 0,
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
		// Version 1 weighs 400: 300 adds 3/4 per unit of weight, in node 1 of the index.
		let acc = per_weight(300, 400);
		assert_eq!(pool(w.d0), Pool { reward_per_weight: acc, balance: 300 });
		assert_eq!(RewardIndex::<Test>::iter().collect::<Vec<_>>(), vec![(w.d0, 1, acc)]);
		assert_eq!(Attribution::reward_suffix(w.d0, 1), acc);
		// No dust: no dust event.
		assert_eq!(TotalDust::<Test>::get(), 0);
		assert!(!System::events()
			.iter()
			.any(|r| matches!(r.event, RuntimeEvent::Attribution(Event::DustCollected { .. }))));
		// Eve has 3/4 of the weight, Fred 1/4.
		assert_eq!(pending(EVE), vec![(w.d0, 1, 225)]);
		assert_eq!(pending(FRED), vec![(w.d0, 1, 75)]);
	});
}

/// Settles `fee` of `adapter` from [`SOURCE`] with [`DAVE`] as operator and `matched` shares.
fn settle_matched(adapter: AdapterId, fee: u128, matched: &[(u64, DatanetVersionRef, u32)]) {
	let matched: Vec<MatchedShare<u64>> = matched
		.iter()
		.map(|(who, v, percent)| MatchedShare {
			adapter,
			datanet: v.datanet,
			version: v.version,
			contributor: *who,
			share: Perbill::from_percent(*percent),
		})
		.collect();
	assert_ok!(<Attribution as SettleFees<u64, u128>>::settle(
		&SOURCE,
		&DAVE,
		&[(adapter, fee)],
		&matched
	));
}

#[test]
fn settle_pays_matched_contributors_then_weights_works() {
	build_and_execute(|| {
		let w = world();
		let source = free(SOURCE);
		// 1,000: datanets 300, half of it (150) by attribution. The answers matched Fred's
		// records for 60% of the fee: Fred 90; the other 210 by weight (Eve 3/4, Fred 1/4).
		settle_matched(w.adapter, 1_000, &[(FRED, w.v1, 60)]);
		System::assert_has_event(
			Event::FeesSplit {
				adapter: w.adapter,
				fee: 1_000,
				author: 400,
				base_owner: 150,
				datanets: 210,
				matched: 90,
				operator: 100,
				treasury: 50,
			}
			.into(),
		);
		System::assert_has_event(
			Event::MatchedPaid {
				adapter: w.adapter,
				datanet: w.d0,
				version: 1,
				contributor: FRED,
				amount: 90,
			}
			.into(),
		);
		assert_eq!(Credits::<Test>::get(FRED, Role::Contributor), 90);
		assert_eq!(pool(w.d0).balance, 210);
		assert_eq!(pending(EVE), vec![(w.d0, 1, 157)]);
		assert_eq!(pending(FRED), vec![(w.d0, 1, 52)]);
		assert_eq!(Attribution::pending_rewards(&FRED).as_contributor, 90);
		// Conservation: everything charged is credited, pooled or at the treasury.
		assert_eq!(free(SOURCE), source - 1_000);
		assert_eq!(free(pot()), ED + 400 + 150 + 100 + 90 + 210);

		// Fred claims his matched credit with his other credits.
		let before = free(FRED);
		assert_ok!(Attribution::claim_credits(RuntimeOrigin::signed(FRED)));
		assert_eq!(free(FRED), before + 90);
		assert_eq!(Credits::<Test>::get(FRED, Role::Contributor), 0);
		assert_ok!(Attribution::do_try_state());
	});
}

#[test]
fn settle_matched_without_weight_credits_nobody_works() {
	build_and_execute(|| {
		let w = world();
		// Another datanet the adapter was not trained on, where Gina froze weight.
		let other = new_datanet(Open);
		contribute(other, GINA, 100);
		let elsewhere = freeze(other);
		// Gina has no weight in v1; in `elsewhere` she has, but the adapter does not cite it;
		// version 2 of d0 does not exist. None is paid: all 300 follow the weights.
		settle_matched(
			w.adapter,
			1_000,
			&[
				(GINA, w.v1, 30),
				(GINA, elsewhere, 30),
				(EVE, DatanetVersionRef { datanet: w.d0, version: 2 }, 30),
			],
		);
		assert_eq!(Credits::<Test>::get(GINA, Role::Contributor), 0);
		assert_eq!(Credits::<Test>::get(EVE, Role::Contributor), 0);
		assert_eq!(pool(w.d0).balance, 300);
		assert_eq!(pool(other).balance, 0);
		assert!(!System::events()
			.iter()
			.any(|r| matches!(r.event, RuntimeEvent::Attribution(Event::MatchedPaid { .. }))));
		assert_ok!(Attribution::do_try_state());
	});
}

#[test]
fn settle_matched_of_another_adapter_is_ignored_works() {
	build_and_execute(|| {
		let w = world();
		let second = new_adapter(CAROL, w.model, vec![(w.v1, Perbill::one())]);
		let matched = [MatchedShare {
			adapter: second,
			datanet: w.d0,
			version: 1,
			contributor: EVE,
			share: Perbill::one(),
		}];
		assert_ok!(<Attribution as SettleFees<u64, u128>>::settle(
			&SOURCE,
			&DAVE,
			&[(w.adapter, 1_000)],
			&matched
		));
		assert_eq!(Credits::<Test>::get(EVE, Role::Contributor), 0);
		assert_eq!(pool(w.d0).balance, 300);
	});
}

#[test]
fn settle_matched_over_whole_pays_at_most_the_matched_part_works() {
	build_and_execute(|| {
		let w = world();
		// 100% + 100%: the first takes the whole matched part (150), the second nothing.
		settle_matched(w.adapter, 1_000, &[(EVE, w.v1, 100), (FRED, w.v1, 100)]);
		assert_eq!(Credits::<Test>::get(EVE, Role::Contributor), 150);
		assert_eq!(Credits::<Test>::get(FRED, Role::Contributor), 0);
		assert_eq!(pool(w.d0).balance, 150);
		assert_ok!(Attribution::do_try_state());
	});
}

#[test]
fn settle_with_no_match_pays_by_weights_alone_works() {
	build_and_execute(|| {
		let w = world();
		settle_matched(w.adapter, 1_000, &[]);
		assert_eq!(pool(w.d0).balance, 300);
		assert_eq!(pending(EVE), vec![(w.d0, 1, 225)]);
		assert_eq!(pending(FRED), vec![(w.d0, 1, 75)]);
		assert_eq!(Credits::<Test>::iter().filter(|(_, r, _)| *r == Role::Contributor).count(), 0);
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
				matched: 0,
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
		// Version 2 of d0 (Gina's), and a second datanet of Fred's.
		contribute(w.d0, GINA, 100);
		let v2 = freeze(w.d0);
		let d1 = new_datanet(Open);
		contribute(d1, FRED, 50);
		let d1v1 = freeze(d1);
		let adapter = new_adapter(
			CAROL,
			w.model,
			vec![
				(w.v1, Perbill::from_percent(30)),
				(v2, Perbill::from_percent(20)),
				(d1v1, Perbill::from_percent(50)),
			],
		);
		assert_ok!(settle(&[(adapter, 10_000)]));
		// 3,000 to the datanets: 900 to d0's version 1 and 600 to its version 2 (one pool),
		// 1,500 to d1's version 1.
		System::assert_has_event(
			Event::FeesSplit {
				adapter,
				fee: 10_000,
				author: 4_000,
				base_owner: 1_500,
				datanets: 3_000,
				matched: 0,
				operator: 1_000,
				treasury: 500,
			}
			.into(),
		);
		assert_eq!(pool(w.d0).balance, 1_500);
		assert_eq!(pool(d1).balance, 1_500);
		// Version 1 weighs 400 (Eve 300, Fred 100): 9/4 per weight. Version 2 weighs 500 with
		// version 1's (Gina 100 more): 6/5 per weight, which version 1's weight earns too.
		let (acc1, acc2) = (per_weight(900, 400), per_weight(600, 500));
		assert_eq!(RewardIndex::<Test>::get(w.d0, 1), acc1);
		assert_eq!(RewardIndex::<Test>::get(w.d0, 2), acc2);
		assert_eq!(Attribution::reward_suffix(w.d0, 1), acc1 + acc2);
		assert_eq!(Attribution::reward_suffix(w.d0, 2), acc2);
		assert_eq!(pool(w.d0).reward_per_weight, acc1 + acc2);
		assert_eq!(pending(EVE), vec![(w.d0, 1, 675 + 360)]);
		assert_eq!(pending(FRED), vec![(w.d0, 1, 225 + 120), (d1, 1, 1_500)]);
		assert_eq!(pending(GINA), vec![(w.d0, 2, 120)]);
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
		let adapter = new_adapter(CAROL, w.model, even_training(&[w.v1, v1, v2]));
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
				matched: 0,
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
		let own = new_adapter(BOB, w.model, vec![(w.v1, Perbill::one())]);
		let source = free(SOURCE);
		assert_ok!(settle(&[(w.adapter, 1_000), (own, 2_000), (w.adapter, 10)]));
		assert_eq!(free(SOURCE), source - 3_010);
		assert_eq!(Credits::<Test>::get(CAROL, Role::Author), 400 + 4);
		assert_eq!(Credits::<Test>::get(BOB, Role::Author), 800);
		assert_eq!(Credits::<Test>::get(BOB, Role::BaseOwner), 150 + 300 + 1);
		assert_eq!(Credits::<Test>::get(DAVE, Role::Operator), 100 + 200 + 1);
		assert_eq!(pool(w.d0).balance, 300 + 600 + 3);
		// Each part raised version 1's reward on its own (rounded down each time); one node.
		let acc = per_weight(300, 400) + per_weight(600, 400) + per_weight(3, 400);
		assert_eq!(RewardIndex::<Test>::iter().collect::<Vec<_>>(), vec![(w.d0, 1, acc)]);
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
			<Attribution as SettleFees<u64, u128>>::settle(
				&NOBODY,
				&DAVE,
				&[(w.adapter, 100)],
				&[]
			),
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
fn settle_reward_overflow_goes_to_treasury_works() {
	build_and_execute(|| {
		let w = world();
		// A version of weight 1: each unit of a part adds PRECISION per weight, so a large enough
		// fee would overflow the pool's sum of rewards per weight. Such a part goes to the
		// treasury; the pool and the index are left as they were.
		let d1 = new_datanet(Open);
		contribute(d1, EVE, 1);
		let tiny = freeze(d1);
		let adapter = new_adapter(CAROL, w.model, vec![(tiny, Perbill::one())]);
		let fee = u128::MAX / PRECISION * 2;
		Balances::set_balance(&SOURCE, fee * 3);
		assert_ok!(settle(&[(adapter, fee)]));
		let part = Perbill::from_percent(30).mul_floor(fee);
		assert_eq!(pool(d1), Pool { reward_per_weight: part * PRECISION, balance: part });
		let treasury = free(TREASURY);
		assert_ok!(settle(&[(adapter, fee)]));
		assert_eq!(pool(d1), Pool { reward_per_weight: part * PRECISION, balance: part });
		assert_eq!(RewardIndex::<Test>::get(d1, 1), part * PRECISION);
		let credited: u128 =
			[40, 15, 10].iter().map(|p| Perbill::from_percent(*p).mul_floor(fee)).sum();
		assert_eq!(free(TREASURY), treasury + fee - credited);
		// Eve still claims what the first part paid.
		assert_eq!(pending(EVE), vec![(d1, 1, part)]);
	});
}

#[test]
fn settle_is_all_or_nothing_works() {
	build_and_execute(|| {
		let w = world();
		// The treasury is emptied: it cannot receive less than the existential deposit, so the
		// treasury's transfer, the last step, fails; the pot's transfer and the pool, index and
		// credit writes before it are undone.
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
				matched: 0,
				operator: 100,
				treasury: 350,
			}
			.into(),
		);
		assert_eq!(free(TREASURY), treasury + 350);
		assert_eq!(TotalDust::<Test>::get(), 0);
		assert!(!Pools::<Test>::contains_key(w.d0));
		assert_eq!(RewardIndex::<Test>::iter().count(), 0);
	});
}

#[test]
fn settle_weightless_version_goes_to_treasury_works() {
	build_and_execute(|| {
		let w = world();
		// A curated datanet whose only record weighs 1 × 10 / 100 = 0.
		let d1 = new_datanet(Curated);
		contribute_curated(d1, EVE, 1, 10);
		let v1 = freeze(d1);
		assert_eq!(<Datanets as DatanetWeights<u64>>::weight_through(d1, 1), 0);
		let adapter = new_adapter(
			CAROL,
			w.model,
			vec![(w.v1, Perbill::from_percent(50)), (v1, Perbill::from_percent(50))],
		);
		assert_ok!(settle(&[(adapter, 1_000)]));
		System::assert_has_event(
			Event::FeesSplit {
				adapter,
				fee: 1_000,
				author: 400,
				base_owner: 150,
				datanets: 150,
				matched: 0,
				operator: 100,
				treasury: 200,
			}
			.into(),
		);
		assert_eq!(pool(w.d0).balance, 150);
		assert!(!Pools::<Test>::contains_key(d1));
		assert_eq!(pending(EVE), vec![(w.d0, 1, 112)]);
	});
}

#[test]
fn settle_version_not_frozen_or_out_of_range_goes_to_treasury_works() {
	build_and_execute(|| {
		let w = world();
		// Gina's record is accepted into d0's open version 2, not frozen.
		contribute(w.d0, GINA, 400);
		// Another model registry could report versions that are not frozen (2), that are not
		// versions (0), or that are beyond the most a datanet may have.
		let cite = |version| DatanetVersionRef { datanet: w.d0, version };
		pallet_models::Adapters::<Test>::mutate(w.adapter, |a| {
			if let Some(a) = a {
				a.training = BoundedVec::try_from(vec![
					(w.v1, Perbill::from_percent(25)),
					(cite(2), Perbill::from_percent(25)),
					(cite(0), Perbill::from_percent(25)),
					(cite(MAX_VERSIONS + 1), Perbill::from_percent(25)),
				])
				.expect("fits");
			}
		});
		let treasury = free(TREASURY);
		assert_ok!(settle(&[(w.adapter, 1_000)]));
		// 300 to the datanets: 75 to version 1, the other three parts to the treasury.
		System::assert_has_event(
			Event::FeesSplit {
				adapter: w.adapter,
				fee: 1_000,
				author: 400,
				base_owner: 150,
				datanets: 75,
				matched: 0,
				operator: 100,
				treasury: 50 + 225,
			}
			.into(),
		);
		assert_eq!(free(TREASURY), treasury + 275);
		assert_eq!(pool(w.d0).balance, 75);
		assert_eq!(
			RewardIndex::<Test>::iter().collect::<Vec<_>>(),
			vec![(w.d0, 1, per_weight(75, 400))]
		);
		assert_eq!(pending(GINA), vec![]);
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
				matched: 0,
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
	use crate::weights::WeightInfo;
	// Each training version may raise the whole depth of the index: 5 nodes for 20 versions.
	assert_eq!(reward_index::depth(MAX_VERSIONS), 5);
	let one = <() as WeightInfo>::settle_adapter(MAX_TRAINING).saturating_add(
		<() as WeightInfo>::reward_index_add(5).saturating_mul(u64::from(MAX_TRAINING)),
	);
	let weight = <Attribution as SettleFees<u64, u128>>::settle_weight;
	assert_eq!(weight(0, 0), Weight::zero());
	assert_eq!(weight(0, 5), Weight::zero());
	assert_eq!(weight(1, 0), one);
	assert_eq!(weight(3, 0), one.saturating_mul(3));
	// Matched shares add their slope over one adapter's settlement, never its intercept again.
	let shares = <() as WeightInfo>::settle_matched(MAX_MATCHED)
		.saturating_sub(<() as WeightInfo>::settle_matched(0));
	assert!(shares.all_gt(Weight::zero()));
	assert_eq!(weight(2, MAX_MATCHED), one.saturating_mul(2).saturating_add(shares));
	assert!(one.all_gt(<() as WeightInfo>::settle_adapter(MAX_TRAINING)));
	assert!(<() as WeightInfo>::settle_adapter(MAX_TRAINING)
		.all_gt(<() as WeightInfo>::settle_adapter(1)));
	assert!(<() as WeightInfo>::reward_index_add(5).all_gt(<() as WeightInfo>::reward_index_add(1)));
}

// ---- rewards follow versions ----

#[test]
fn fee_for_a_version_does_not_pay_later_versions_works() {
	build_and_execute(|| {
		let w = world();
		assert_ok!(settle(&[(w.adapter, 1_000)]));
		// Gina's record, as heavy as everyone's in version 1 together, is frozen in version 2.
		contribute(w.d0, GINA, 400);
		let v2 = freeze(w.d0);
		assert_eq!(v2.version, 2);
		// The adapter was trained on version 1: its fees, before and after version 2, pay
		// version 1's contributors alone.
		assert_ok!(settle(&[(w.adapter, 1_000)]));
		assert_eq!(pending(EVE), vec![(w.d0, 1, 450)]);
		assert_eq!(pending(FRED), vec![(w.d0, 1, 150)]);
		assert_eq!(pending(GINA), vec![]);
		assert_eq!(Attribution::reward_suffix(w.d0, 2), 0);
		assert_noop!(claim(GINA, w.d0, 2), Error::NothingToClaim);
		assert_noop!(claim(GINA, w.d0, 1), Error::NothingToClaim);
		assert_ok!(claim(EVE, w.d0, 1));
		assert_ok!(claim(FRED, w.d0, 1));
		assert_eq!(pool(w.d0).balance, 0);
	});
}

#[test]
fn fee_for_a_later_version_pays_earlier_versions_pro_rata_works() {
	build_and_execute(|| {
		let w = world();
		contribute(w.d0, GINA, 400);
		let v2 = freeze(w.d0);
		let newer = new_adapter(CAROL, w.model, vec![(v2, Perbill::one())]);
		// 300 for version 1 (weight 400) and 300 for version 2 (weight 800 through it).
		assert_ok!(settle(&[(w.adapter, 1_000), (newer, 1_000)]));
		let (acc1, acc2) = (per_weight(300, 400), per_weight(300, 800));
		assert_eq!(Attribution::reward_suffix(w.d0, 1), acc1 + acc2);
		assert_eq!(Attribution::reward_suffix(w.d0, 2), acc2);
		// Eve: 300 × (3/4 + 3/8) = 337.5; Fred: 100 × 9/8 = 112.5; Gina: 400 × 3/8 = 150.
		assert_eq!(pending(EVE), vec![(w.d0, 1, 337)]);
		assert_eq!(pending(FRED), vec![(w.d0, 1, 112)]);
		assert_eq!(pending(GINA), vec![(w.d0, 2, 150)]);
		// Another version-2 fee: version 1's weight now holds 3/2 per weight, version 2's 3/4.
		assert_ok!(settle(&[(newer, 1_000)]));
		assert_eq!(pending(EVE), vec![(w.d0, 1, 450)]);
		assert_eq!(pending(FRED), vec![(w.d0, 1, 150)]);
		assert_eq!(pending(GINA), vec![(w.d0, 2, 300)]);
		for (who, version, amount) in [(EVE, 1, 450), (FRED, 1, 150), (GINA, 2, 300)] {
			assert_ok!(claim(who, w.d0, version));
			System::assert_last_event(
				Event::RewardClaimed { who, datanet: w.d0, version, amount }.into(),
			);
		}
		// Nothing is lost but rounding: 900 in, 900 out.
		assert_eq!(pool(w.d0).balance, 0);
	});
}

#[test]
fn accepted_but_unfrozen_weight_earns_nothing_works() {
	build_and_execute(|| {
		let w = world();
		// Gina's record is accepted into the open version 2: the registry has her weight, but
		// it is not frozen, so it is not visible to attribution.
		contribute(w.d0, GINA, 400);
		assert_eq!(pallet_datanets::ContributorWeights::<Test>::get((GINA, w.d0, 2)), Some(400));
		assert_eq!(<Datanets as DatanetWeights<u64>>::contributor_weight(w.d0, 2, &GINA), 0);
		// A curated datanet's pending record has no weight at all.
		let d1 = new_datanet(Curated);
		assert_ok!(Datanets::contribute(
			RuntimeOrigin::signed(GINA),
			d1,
			fresh_hash(),
			50,
			50,
			None
		));
		assert_ok!(settle(&[(w.adapter, 1_000)]));
		assert_eq!(pending(GINA), vec![]);
		assert_noop!(claim(GINA, w.d0, 2), Error::NothingToClaim);
		assert_noop!(claim(GINA, d1, 1), Error::NothingToClaim);
		// Freezing version 2 does not pay her what version 1's fees paid before, nor later.
		freeze(w.d0);
		assert_ok!(settle(&[(w.adapter, 1_000)]));
		assert_eq!(pending(GINA), vec![]);
		assert_eq!(pending(EVE), vec![(w.d0, 1, 450)]);
	});
}

#[test]
fn claims_for_one_version_do_not_touch_another_works() {
	build_and_execute(|| {
		let w = world();
		// Eve freezes another 300 in version 2: 700 through it.
		contribute(w.d0, EVE, 300);
		let v2 = freeze(w.d0);
		let newer = new_adapter(CAROL, w.model, vec![(v2, Perbill::one())]);
		assert_ok!(settle(&[(newer, 1_000)]));
		// 300 × 300 / 700 = 128.57 for each of Eve's versions; Fred 42.86.
		assert_eq!(pending(EVE), vec![(w.d0, 1, 128), (w.d0, 2, 128)]);
		assert_ok!(claim(EVE, w.d0, 1));
		System::assert_last_event(
			Event::RewardClaimed { who: EVE, datanet: w.d0, version: 1, amount: 128 }.into(),
		);
		assert_eq!(
			Checkpoints::<Test>::get((EVE, w.d0, 1)),
			Some(Attribution::reward_suffix(w.d0, 1))
		);
		assert_eq!(Checkpoints::<Test>::get((EVE, w.d0, 2)), None);
		assert_eq!(pending(EVE), vec![(w.d0, 2, 128)]);
		assert_noop!(claim(EVE, w.d0, 1), Error::NothingToClaim);
		// A fee for version 1 raises version 1 alone.
		assert_ok!(settle(&[(w.adapter, 1_000)]));
		assert_eq!(pending(EVE), vec![(w.d0, 1, 225), (w.d0, 2, 128)]);
		assert_ok!(claim(EVE, w.d0, 2));
		assert_eq!(pending(EVE), vec![(w.d0, 1, 225)]);
		assert_eq!(pending(FRED), vec![(w.d0, 1, 42 + 75)]);
	});
}

#[test]
fn claim_walks_log_versions_nodes_works() {
	new_test_ext().execute_with(|| {
		// A datanet of 12 versions, Eve's weight 1,000 in version 1.
		let d = datanet_with_versions(12, EVE);
		assert_eq!(<Datanets as DatanetWeights<u64>>::version_count(d), 12);
		// Every node up to the bound holds one unit per weight: a claim of version 1 reads
		// nodes 1, 2, 4 and 8 only (not 3, 5, …; not 16, above the frozen versions), so it is
		// paid four units per weight.
		for i in 1..=MAX_VERSIONS {
			RewardIndex::<Test>::insert(d, i, PRECISION);
		}
		assert_eq!(reward_index::suffix_path(1, 12).collect::<Vec<_>>(), vec![1, 2, 4, 8]);
		assert_eq!(Attribution::reward_suffix(d, 1), 4 * PRECISION);
		assert_eq!(Attribution::reward_suffix(d, 3), 3 * PRECISION);
		assert_eq!(Attribution::reward_suffix(d, 12), PRECISION);
		Pools::<Test>::insert(d, Pool { reward_per_weight: 4 * PRECISION, balance: 4_000 });
		Balances::set_balance(&pot(), ED + 4_000);
		assert_ok!(claim(EVE, d, 1));
		System::assert_last_event(
			Event::RewardClaimed { who: EVE, datanet: d, version: 1, amount: 4_000 }.into(),
		);
	});
}

// ---- claim ----

#[test]
fn claim_works() {
	build_and_execute(|| {
		let w = world();
		assert_ok!(settle(&[(w.adapter, 1_000)]));
		let eve = free(EVE);
		assert_ok!(claim(EVE, w.d0, 1));
		System::assert_has_event(
			Event::RewardClaimed { who: EVE, datanet: w.d0, version: 1, amount: 225 }.into(),
		);
		assert_eq!(free(EVE), eve + 225);
		assert_eq!(pool(w.d0).balance, 75);
		assert_eq!(Checkpoints::<Test>::get((EVE, w.d0, 1)), Some(per_weight(300, 400)));
		assert_eq!(pending(EVE), vec![]);
		assert_noop!(claim(EVE, w.d0, 1), Error::NothingToClaim);
		assert_ok!(claim(FRED, w.d0, 1));
		assert_eq!(pool(w.d0).balance, 0);
	});
}

#[test]
fn claim_nothing_fails() {
	build_and_execute(|| {
		let w = world();
		// Nothing settled yet.
		assert_noop!(claim(EVE, w.d0, 1), Error::NothingToClaim);
		assert_ok!(settle(&[(w.adapter, 1_000)]));
		// No weight in the version; not a version; a version not frozen; no such datanet.
		assert_noop!(claim(GINA, w.d0, 1), Error::NothingToClaim);
		assert_noop!(claim(EVE, w.d0, 0), Error::NothingToClaim);
		assert_noop!(claim(EVE, w.d0, 2), Error::NothingToClaim);
		assert_noop!(claim(EVE, w.d0, VersionId::MAX), Error::NothingToClaim);
		assert_noop!(claim(EVE, 42, 1), Error::NothingToClaim);
		assert_noop!(Attribution::claim(RuntimeOrigin::none(), w.d0, 1), DispatchError::BadOrigin);
	});
}

#[test]
fn claims_after_several_settlements_works() {
	build_and_execute(|| {
		let w = world();
		let (eve, fred) = (free(EVE), free(FRED));
		assert_ok!(settle(&[(w.adapter, 1_000)]));
		assert_ok!(settle(&[(w.adapter, 2_000)]));
		assert_ok!(claim(FRED, w.d0, 1));
		assert_ok!(settle(&[(w.adapter, 3_000), (w.adapter, 4_000)]));
		assert_ok!(claim(EVE, w.d0, 1));
		assert_ok!(claim(FRED, w.d0, 1));
		// 3,000 to the pool in all: Eve 3/4, Fred 1/4, claimed in one go and in two.
		assert_eq!(free(EVE), eve + 2_250);
		assert_eq!(free(FRED), fred + 750);
		assert_eq!(pool(w.d0).balance, 0);
		assert_noop!(claim(FRED, w.d0, 1), Error::NothingToClaim);
	});
}

#[test]
fn claim_below_existential_deposit_works() {
	build_and_execute(|| {
		// Nobody holds just the existential deposit and its record's deposit, and contributes
		// 1 of 401. A frozen record's deposit stays held, so a contributor's account always
		// exists and a reward below the existential deposit can be paid.
		Balances::set_balance(&NOBODY, ED + record_deposit(1));
		let d = new_datanet(Open);
		contribute(d, EVE, 300);
		contribute(d, FRED, 100);
		contribute(d, NOBODY, 1);
		let v1 = freeze(d);
		let adapter = new_adapter(CAROL, new_model(BOB), vec![(v1, Perbill::one())]);
		assert_ok!(settle(&[(adapter, 4_000)]));
		// 1,200 × 1 / 401 = 2.99.
		assert_eq!(pending(NOBODY), vec![(d, 1, 2)]);
		assert_ok!(claim(NOBODY, d, 1));
		assert_eq!(free(NOBODY), ED + 2);
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
		let own = new_adapter(BOB, w.model, vec![(w.v1, Perbill::one())]);
		assert_ok!(<Attribution as SettleFees<u64, u128>>::settle(
			&SOURCE,
			&BOB,
			&[(own, 1_000)],
			&[]
		));
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
			&[(w.adapter, 50)],
			&[]
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
		let d1v1 = freeze(d1);
		let adapter = new_adapter(
			EVE,
			w.model,
			vec![(w.v1, Perbill::from_percent(50)), (d1v1, Perbill::from_percent(50))],
		);
		assert_ok!(settle(&[(adapter, 2_000)]));
		// 600 to the versions, 300 each: Eve 225 of d0's and 75 of d1's; she is also the author.
		assert_eq!(
			Attribution::pending_rewards(&EVE),
			PendingRewards {
				versions: vec![(w.d0, 1, 225), (d1, 1, 75)],
				as_author: 800,
				as_base_owner: 0,
				as_operator: 0,
				as_contributor: 0
			}
		);
		// A version with nothing to claim is left out.
		assert_ok!(claim(EVE, d1, 1));
		assert_eq!(pending(EVE), vec![(w.d0, 1, 225)]);
		// Eve freezes 40 more in d1's version 2 (80 through it), and a fee pays it.
		contribute(d1, EVE, 40);
		let d1v2 = freeze(d1);
		let newer = new_adapter(
			CAROL,
			w.model,
			vec![(w.v1, Perbill::from_percent(50)), (d1v2, Perbill::from_percent(50))],
		);
		assert_ok!(settle(&[(newer, 2_000)]));
		// 300 per weight 80 in d1: Eve 10 × 3.75 in version 1 and 40 × 3.75 in version 2.
		assert_eq!(pending(EVE), vec![(w.d0, 1, 450), (d1, 1, 37), (d1, 2, 150)]);
		assert_eq!(pending(GINA), vec![(d1, 1, 225 + 112)]);
		assert_eq!(Attribution::pending_rewards(&NOBODY), PendingRewards::default());
	});
}

#[test]
fn pending_rewards_metered_works() {
	build_and_execute(|| {
		let w = world();
		contribute(w.d0, EVE, 100);
		freeze(w.d0);
		assert_ok!(settle(&[(w.adapter, 1_000)]));
		// Two versions, three charges: one before each step of the walk.
		let mut charges = 0;
		let rewards = Attribution::pending_rewards_metered(&EVE, || {
			charges += 1;
			Ok::<(), ()>(())
		});
		assert_eq!(rewards.map(|r| r.versions), Ok(vec![(w.d0, 1, 225)]));
		assert_eq!(charges, 3);
		// A charge that fails stops the walk with its error.
		let mut left = 2;
		let stopped = Attribution::pending_rewards_metered(&EVE, || {
			if left == 0 {
				return Err("out of gas");
			}
			left -= 1;
			Ok(())
		});
		assert_eq!(stopped, Err("out of gas"));
		// No versions: one charge.
		let mut charges = 0;
		let none = Attribution::pending_rewards_metered(&NOBODY, || {
			charges += 1;
			Ok::<(), ()>(())
		});
		assert_eq!(none, Ok(PendingRewards::default()));
		assert_eq!(charges, 1);
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
		assert_ok!(claim(EVE, w.d0, 1));
		assert_ok!(Attribution::do_try_state());

		// A checkpoint behind the claim it records: the pool would pay Eve twice.
		let honest = Checkpoints::<Test>::get((EVE, w.d0, 1)).expect("Eve claimed");
		Checkpoints::<Test>::insert((EVE, w.d0, 1), 0);
		assert!(Attribution::do_try_state().is_err());
		Checkpoints::<Test>::insert((EVE, w.d0, 1), honest);
		assert_ok!(Attribution::do_try_state());

		// A checkpoint ahead of its version's reward.
		Checkpoints::<Test>::insert((EVE, w.d0, 1), honest + 1);
		assert!(Attribution::do_try_state().is_err());
		Checkpoints::<Test>::insert((EVE, w.d0, 1), honest);

		// A node that is not the sum the pool records, one above the frozen versions, one
		// without a pool.
		RewardIndex::<Test>::insert(w.d0, 1, honest + 1);
		assert!(Attribution::do_try_state().is_err());
		RewardIndex::<Test>::insert(w.d0, 1, honest);
		RewardIndex::<Test>::insert(w.d0, 2, 1);
		assert!(Attribution::do_try_state().is_err());
		RewardIndex::<Test>::remove(w.d0, 2);
		RewardIndex::<Test>::insert(7, 1, 1);
		assert!(Attribution::do_try_state().is_err());
		RewardIndex::<Test>::remove(7, 1);
		assert_ok!(Attribution::do_try_state());

		// A pool that holds less than its contributors may claim.
		Pools::<Test>::mutate(w.d0, |pool| pool.balance -= 1);
		assert!(Attribution::do_try_state().is_err());
		Pools::<Test>::mutate(w.d0, |pool| pool.balance += 1);
		assert_ok!(Attribution::do_try_state());

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
	let json = r#"{"policy":{"author":400000000,"baseOwner":150000000,"datanets":300000000,"operator":100000000,"treasury":50000000,"matched":500000000}}"#;
	let config: GenesisConfig<Test> = serde_json::from_str(json).expect("the JSON decodes");
	assert_eq!(config.policy, FeePolicy::default());
	assert_eq!(serde_json::to_string(&GenesisConfig::<Test>::default()).expect("encodes"), json);
}
