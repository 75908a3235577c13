//! Property test of settlement and claims against a naive reference.
//!
//! Each case builds random datanets (open or curated) with contributors whose weights come from
//! real `pallet-datanets` contributions and acceptances, freezes one or two versions of each,
//! registers adapters with real `pallet-models` calls and random training splits, then runs a
//! random sequence of settlements (through [`SettleFees::settle`], some poisoned with an unknown
//! adapter), new contributions (contributors joining or growing after fees were paid), claims,
//! credit claims and policy changes, and finally claims everything.
//!
//! The reference splits every fee again with plain integer arithmetic and credits every datanet
//! part to the contributors who had weight at that moment, in O(contributors). After every step:
//! - credits, pool balances, the treasury's receipts and the dust equal the reference exactly;
//! - each contributor's claimed-plus-pending reward is at most the reference's (rounded up per
//!   settlement) and at least the reference's (rounded down per settlement) minus one unit per
//!   settlement that paid the datanet; a contributor joining after a fee gets nothing of it;
//! - conservation: `charged = claimed + Σ credits + Σ pool balances + sent to the treasury`, the
//!   pot holds exactly its existential deposit plus the credits and pool balances, and
//!   `do_try_state` holds.

use crate::{
	mock::{Attribution, Datanets, *},
	*,
};
use lineage_primitives::DatanetVersionRef;
use pallet_datanets::ContributionPolicy;
use polkadot_sdk::{
	frame_support::{assert_ok, traits::fungible::Mutate},
	sp_runtime::StateVersion,
};
use proptest::{collection::vec, prelude::*};
use std::collections::BTreeMap;

/// The number of random scenarios.
const CASES: u32 = 256;
/// The contributors.
const CONTRIBUTORS: [u64; 5] = [10, 11, 12, 13, 14];
/// The operators.
const OPERATORS: [u64; 2] = [20, 21];
/// The adapter authors (one of them also contributes).
const AUTHORS: [u64; 3] = [CAROL, 22, 10];
/// The base-model owners.
const OWNERS: [u64; 2] = [BOB, 23];
/// Everyone who may hold a credit.
const CREDITED: [u64; 7] = [CAROL, 22, 10, BOB, 23, 20, 21];
/// The source's balance at the start of a case.
const SOURCE_START: u128 = 1_000_000_000_000_000_000_000_000;

/// One contribution: datanet index, contributor index, tokens, quality (curated datanets only).
type Contribution = (usize, usize, u64, u16);

#[derive(Clone, Debug)]
struct AdapterSpec {
	author: usize,
	model: usize,
	/// Version index (modulo the number of versions) and a raw weight.
	training: Vec<(usize, u32)>,
}

#[derive(Clone, Debug)]
enum Op {
	/// Settle fees of (adapter index modulo the number of adapters, fee); `poison` adds an
	/// unknown adapter, which must make the whole call fail and change nothing.
	Settle {
		operator: usize,
		fees: Vec<(usize, u128)>,
		poison: bool,
	},
	Contribute(Contribution),
	Claim {
		who: usize,
		datanet: usize,
	},
	ClaimCredits {
		who: usize,
	},
	/// Raw shares, normalised to a whole policy.
	SetPolicy([u32; 5]),
}

#[derive(Clone, Debug)]
struct Scenario {
	curated: Vec<bool>,
	/// Per datanet, the contributions of its first version (at least one).
	first: Vec<Vec<Contribution>>,
	/// Per datanet, the contributions of its second version (none: no second version).
	second: Vec<Vec<Contribution>>,
	adapters: Vec<AdapterSpec>,
	ops: Vec<Op>,
}

fn contribution(datanets: usize) -> impl Strategy<Value = Contribution> {
	(0..datanets, 0..CONTRIBUTORS.len(), prop_oneof![1u64..=10, 1u64..=1_000], 10u16..=300)
}

fn fee() -> impl Strategy<Value = u128> {
	prop_oneof![0u128..=100, 0u128..=100_000, 1_000_000_000u128..=1_000_000_000_000_000]
}

fn op(datanets: usize) -> impl Strategy<Value = Op> {
	prop_oneof![
		5 => (0..OPERATORS.len(), vec((0usize..8, fee()), 1..=4), prop::bool::weighted(0.1))
			.prop_map(|(operator, fees, poison)| Op::Settle { operator, fees, poison }),
		3 => contribution(datanets).prop_map(Op::Contribute),
		4 => (0..CONTRIBUTORS.len(), 0..datanets)
			.prop_map(|(who, datanet)| Op::Claim { who, datanet }),
		1 => (0..CREDITED.len()).prop_map(|who| Op::ClaimCredits { who }),
		1 => [0u32..100, 0u32..100, 0u32..100, 0u32..100, 0u32..100].prop_map(Op::SetPolicy),
	]
}

fn scenario() -> impl Strategy<Value = Scenario> {
	(1usize..=3).prop_flat_map(|n| {
		let per_datanet = |min| {
			(0..n)
				.map(move |d| vec(contribution(n).prop_map(move |c| (d, c.1, c.2, c.3)), min..=3))
				.collect::<Vec<_>>()
		};
		let adapter = (0..AUTHORS.len(), 0..OWNERS.len(), vec((0usize..16, 0u32..1_000), 1..=4))
			.prop_map(|(author, model, training)| AdapterSpec { author, model, training });
		(
			vec(any::<bool>(), n),
			per_datanet(1),
			per_datanet(0),
			vec(adapter, 1..=3),
			vec(op(n), 1..40),
		)
			.prop_map(|(curated, first, second, adapters, ops)| Scenario {
				curated,
				first,
				second,
				adapters,
				ops,
			})
	})
}

/// `raw` normalised to parts of a billion summing to exactly 10^9 (even when all are zero).
fn normalise(raw: &[u32]) -> Vec<u32> {
	let one = Perbill::one().deconstruct();
	let sum: u64 = raw.iter().map(|r| u64::from(*r)).sum();
	if sum == 0 {
		let n = raw.len() as u32;
		return (0..n).map(|i| if i == 0 { one - one / n * (n - 1) } else { one / n }).collect();
	}
	let mut parts: Vec<u32> =
		raw.iter().map(|r| (u64::from(*r) * u64::from(one) / sum) as u32).collect();
	let assigned: u32 = parts.iter().sum();
	parts[0] += one - assigned;
	parts
}

/// The naive bookkeeping: every fee split again, every datanet part credited to each
/// contributor in proportion to their weight at that moment.
#[derive(Default)]
struct Reference {
	policy: [u128; 5],
	weights: BTreeMap<(DatanetId, u64), u128>,
	totals: BTreeMap<DatanetId, u128>,
	/// Σ ⌊part × w / W⌋ and Σ ⌈part × w / W⌉ per (contributor, datanet).
	floor: BTreeMap<(u64, DatanetId), u128>,
	ceil: BTreeMap<(u64, DatanetId), u128>,
	/// The settlements that added to each datanet's pool.
	settles: BTreeMap<DatanetId, u128>,
	claimed: BTreeMap<(u64, DatanetId), u128>,
	credits: BTreeMap<(u64, Role), u128>,
	pools: BTreeMap<DatanetId, u128>,
	charged: u128,
	to_treasury: u128,
	dust: u128,
	paid_out: u128,
}

impl Reference {
	fn set_policy(&mut self, p: &FeePolicy) {
		self.policy = [p.author, p.base_owner, p.datanets, p.operator, p.treasury]
			.map(|s| u128::from(s.deconstruct()));
	}

	fn add_weight(&mut self, datanet: DatanetId, who: u64, weight: u128) {
		*self.weights.entry((datanet, who)).or_default() += weight;
		*self.totals.entry(datanet).or_default() += weight;
	}

	fn settle(&mut self, operator: u64, fees: &[(AdapterTerms<u64, u128>, u128)]) {
		const BILLION: u128 = 1_000_000_000;
		let mut touched = BTreeMap::new();
		for (terms, fee) in fees {
			let [author, base_owner, datanets, op, treasury] =
				self.policy.map(|parts| fee * parts / BILLION);
			let mut dust = fee - author - base_owner - datanets - op - treasury;
			let mut parts: BTreeMap<DatanetId, u128> = BTreeMap::new();
			for (version, weight) in &terms.training {
				*parts.entry(version.datanet).or_default() +=
					datanets * u128::from(weight.deconstruct()) / BILLION;
			}
			dust += datanets - parts.values().sum::<u128>();
			let mut unpooled = 0;
			for (datanet, part) in parts {
				let total = self.totals.get(&datanet).copied().unwrap_or_default();
				if part == 0 {
					continue;
				}
				if total == 0 {
					unpooled += part;
					continue;
				}
				*self.pools.entry(datanet).or_default() += part;
				touched.insert(datanet, ());
				for ((d, who), weight) in &self.weights {
					if *d != datanet || *weight == 0 {
						continue;
					}
					*self.floor.entry((*who, datanet)).or_default() += part * weight / total;
					*self.ceil.entry((*who, datanet)).or_default() +=
						(part * weight).div_ceil(total);
				}
			}
			for (who, role, amount) in [
				(terms.author, Role::Author, author),
				(terms.base_model_owner, Role::BaseOwner, base_owner),
				(operator, Role::Operator, op),
			] {
				if amount > 0 {
					*self.credits.entry((who, role)).or_default() += amount;
				}
			}
			self.charged += fee;
			self.dust += dust;
			self.to_treasury += treasury + dust + unpooled;
		}
		for datanet in touched.into_keys() {
			*self.settles.entry(datanet).or_default() += 1;
		}
	}
}

/// The contributor's claimed-plus-pending reward in `datanet`.
fn earned(reference: &Reference, who: u64, datanet: DatanetId) -> u128 {
	let pending = Attribution::pending_rewards(&who)
		.datanets
		.into_iter()
		.find(|(d, _)| *d == datanet)
		.map(|(_, amount)| amount)
		.unwrap_or_default();
	reference.claimed.get(&(who, datanet)).copied().unwrap_or_default() + pending
}

/// Every check against the reference.
fn check(reference: &Reference, datanets: &[DatanetId]) {
	check_state();
	for datanet in datanets {
		assert_eq!(Datanets::total_weight(*datanet), reference.totals[datanet]);
		assert_eq!(
			Pools::<Test>::get(datanet).balance,
			reference.pools.get(datanet).copied().unwrap_or_default(),
			"pool balance of datanet {datanet}"
		);
		let settles = reference.settles.get(datanet).copied().unwrap_or_default();
		for who in CONTRIBUTORS {
			let earned = earned(reference, who, *datanet);
			let floor = reference.floor.get(&(who, *datanet)).copied().unwrap_or_default();
			let ceil = reference.ceil.get(&(who, *datanet)).copied().unwrap_or_default();
			assert!(earned <= ceil, "{who} in {datanet}: earned {earned} above {ceil}");
			assert!(
				earned + settles >= floor,
				"{who} in {datanet}: earned {earned} below {floor} - {settles}"
			);
		}
	}
	let credits: BTreeMap<(u64, Role), u128> =
		Credits::<Test>::iter().map(|(who, role, amount)| ((who, role), amount)).collect();
	assert_eq!(credits, reference.credits);
	assert_eq!(free(TREASURY), ED + reference.to_treasury);
	assert_eq!(TotalDust::<Test>::get(), reference.dust);
	assert_eq!(SOURCE_START - free(SOURCE), reference.charged);
	let pools: u128 = Pools::<Test>::iter_values().map(|p| p.balance).sum();
	let credited: u128 = credits.values().sum();
	assert_eq!(reference.charged, reference.paid_out + credited + pools + reference.to_treasury);
}

fn run(scenario: Scenario) {
	new_test_ext().execute_with(|| {
		let mut reference = Reference::default();
		reference.set_policy(&Attribution::policy());
		Balances::set_balance(&SOURCE, SOURCE_START);
		for owner in OWNERS.into_iter().chain(AUTHORS) {
			fund(owner, BALANCE);
		}

		let contribute_to = |reference: &mut Reference, ids: &[DatanetId], c: &Contribution| {
			let (d, who, tokens, quality) = *c;
			let who = CONTRIBUTORS[who];
			if scenario.curated[d] {
				contribute_curated(ids[d], who, tokens, quality);
				reference.add_weight(ids[d], who, u128::from(tokens) * u128::from(quality) / 100);
			} else {
				contribute(ids[d], who, tokens);
				reference.add_weight(ids[d], who, u128::from(tokens));
			}
		};

		// Datanets and their versions.
		let ids: Vec<DatanetId> = scenario
			.curated
			.iter()
			.map(|curated| {
				let policy =
					if *curated { ContributionPolicy::Curated } else { ContributionPolicy::Open };
				let id = new_datanet(policy);
				reference.totals.insert(id, 0);
				id
			})
			.collect();
		let mut versions: Vec<DatanetVersionRef> = Vec::new();
		for (d, id) in ids.iter().enumerate() {
			for c in &scenario.first[d] {
				contribute_to(&mut reference, &ids, c);
			}
			versions.push(freeze(*id));
			if !scenario.second[d].is_empty() {
				for c in &scenario.second[d] {
					contribute_to(&mut reference, &ids, c);
				}
				versions.push(freeze(*id));
			}
		}

		// Models and adapters.
		let models: Vec<_> = OWNERS.iter().map(|owner| new_model(*owner)).collect();
		let adapters: Vec<AdapterId> = scenario
			.adapters
			.iter()
			.map(|spec| {
				let mut chosen: Vec<(DatanetVersionRef, u32)> = Vec::new();
				for (index, raw) in &spec.training {
					let version = versions[index % versions.len()];
					if !chosen.iter().any(|(v, _)| *v == version) {
						chosen.push((version, *raw));
					}
				}
				let raw: Vec<u32> = chosen.iter().map(|(_, r)| *r).collect();
				let training = chosen
					.iter()
					.zip(normalise(&raw))
					.map(|((v, _), parts)| (*v, Perbill::from_parts(parts)))
					.collect();
				new_adapter(AUTHORS[spec.author], models[spec.model], training)
			})
			.collect();
		check(&reference, &ids);

		for op in &scenario.ops {
			match op {
				Op::Settle { operator, fees, poison } => {
					let operator = OPERATORS[*operator];
					let mut fees: Vec<(AdapterId, u128)> =
						fees.iter().map(|(a, fee)| (adapters[a % adapters.len()], *fee)).collect();
					if *poison {
						fees.insert(fees.len() / 2, (999, 1));
						let before = polkadot_sdk::sp_io::storage::root(StateVersion::V1);
						assert_eq!(
							<Attribution as SettleFees<u64, u128>>::settle(
								&SOURCE, &operator, &fees
							),
							Err(Error::<Test>::UnknownAdapter.into())
						);
						assert_eq!(before, polkadot_sdk::sp_io::storage::root(StateVersion::V1));
						continue;
					}
					let with_terms: Vec<_> = fees
						.iter()
						.map(|(a, fee)| (Models::adapter_terms(*a, 1).expect("registered"), *fee))
						.collect();
					assert_ok!(<Attribution as SettleFees<u64, u128>>::settle(
						&SOURCE, &operator, &fees
					));
					reference.settle(operator, &with_terms);
				},
				Op::Contribute(c) => contribute_to(&mut reference, &ids, c),
				Op::Claim { who, datanet } => {
					let (who, datanet) = (CONTRIBUTORS[*who], ids[*datanet]);
					claim(&mut reference, who, datanet);
				},
				Op::ClaimCredits { who } => {
					let who = CREDITED[*who];
					claim_credits(&mut reference, who);
				},
				Op::SetPolicy(raw) => {
					let p = normalise(raw);
					let policy = FeePolicy {
						author: Perbill::from_parts(p[0]),
						base_owner: Perbill::from_parts(p[1]),
						datanets: Perbill::from_parts(p[2]),
						operator: Perbill::from_parts(p[3]),
						treasury: Perbill::from_parts(p[4]),
					};
					assert_ok!(Attribution::set_policy(RuntimeOrigin::root(), policy));
					reference.set_policy(&policy);
				},
			}
			check(&reference, &ids);
		}

		// Everyone claims everything: the pools keep only rounding.
		for who in CONTRIBUTORS {
			for datanet in &ids {
				claim(&mut reference, who, *datanet);
			}
		}
		for who in CREDITED {
			claim_credits(&mut reference, who);
		}
		check(&reference, &ids);
		assert_eq!(Credits::<Test>::iter().count(), 0);
		for datanet in &ids {
			let settles = reference.settles.get(datanet).copied().unwrap_or_default();
			let left = Pools::<Test>::get(datanet).balance;
			assert!(
				left <= settles * CONTRIBUTORS.len() as u128,
				"datanet {datanet} keeps {left} after {settles} settlements"
			);
		}
	});
}

/// `who` claims from `datanet`: exactly its pending reward, or `NothingToClaim`.
fn claim(reference: &mut Reference, who: u64, datanet: DatanetId) {
	let pending = Attribution::pending_rewards(&who)
		.datanets
		.into_iter()
		.find(|(d, _)| *d == datanet)
		.map(|(_, amount)| amount)
		.unwrap_or_default();
	let before = free(who);
	let result = Attribution::claim(RuntimeOrigin::signed(who), datanet);
	if pending == 0 {
		assert_eq!(result, Err(Error::<Test>::NothingToClaim.into()));
		return;
	}
	assert_ok!(result);
	assert_eq!(free(who), before + pending);
	*reference.claimed.entry((who, datanet)).or_default() += pending;
	*reference.pools.entry(datanet).or_default() -= pending;
	reference.paid_out += pending;
}

/// `who` claims its credits: exactly the reference's, or `NothingToClaim`.
fn claim_credits(reference: &mut Reference, who: u64) {
	let expected: u128 = Role::ALL
		.iter()
		.map(|role| reference.credits.remove(&(who, *role)).unwrap_or_default())
		.sum();
	let before = free(who);
	let result = Attribution::claim_credits(RuntimeOrigin::signed(who));
	if expected == 0 {
		assert_eq!(result, Err(Error::<Test>::NothingToClaim.into()));
		return;
	}
	assert_ok!(result);
	assert_eq!(free(who), before + expected);
	reference.paid_out += expected;
}

proptest! {
	#![proptest_config(ProptestConfig::with_cases(CASES))]

	#[test]
	fn settlement_conserves_and_matches_naive_reference(scenario in scenario()) {
		run(scenario);
	}
}
