//! Property test of settlement and claims against a naive reference that pays per version.
//!
//! Each case builds random datanets (open or curated) with contributors whose weights come from
//! real `pallet-datanets` contributions and acceptances, freezes one or two versions of each,
//! registers adapters with real `pallet-models` calls and random training splits, then runs a
//! random sequence of settlements (through [`SettleFees::settle`], some poisoned with an unknown
//! adapter), new contributions (accepted into the open version: they earn nothing until it is
//! frozen), freezes of new versions after fees were paid, new adapters (trained on old and new
//! versions of the same datanets), claims of frozen and unfrozen versions, credit claims and
//! policy changes, and finally claims everything.
//!
//! The reference splits every fee again with plain integer arithmetic and credits each part for
//! version `v` of a datanet to every contributor in proportion to the weight they froze in each
//! version `u ≤ v` (over the weight frozen through `v`), in O(contributors × versions). Settlements
//! carry random matched shares (of contributors with and without weight, in versions the adapter
//! was and was not trained on, and of a stranger who never contributed): the reference credits a
//! share only where the contributor froze weight in a version the adapter cites, and splits what
//! is left of the datanets' share by the weights. After every step:
//! - credits, pool balances, the treasury's receipts and the dust equal the reference exactly;
//! - each contributor's claimed-plus-pending reward for each version is at most the reference's
//!   (rounded up per part) and at least the reference's (rounded down per part) minus one unit
//!   per settlement that paid that version or a later one; a contributor whose weight is frozen
//!   in a version after a fee's version gets nothing of it;
//! - conservation: `charged = claimed + Σ credits + Σ pool balances + sent to the treasury`, the
//!   pot holds exactly its existential deposit plus the credits and pool balances,
//!   `do_try_state` holds, and so does the mock's contributor-by-contributor check.

use crate::{
	mock::{Attribution, Datanets, *},
	*,
};
use lineage_primitives::DatanetVersionRef;
use pallet_datanets::ContributionPolicy;
use polkadot_sdk::{
	frame_support::{assert_noop, assert_ok, traits::fungible::Mutate},
	sp_runtime::StateVersion,
};
use proptest::{collection::vec, prelude::*};
use std::collections::BTreeMap;

/// The number of random scenarios (about 20 s in the dev profile on one core).
const CASES: u32 = 160;
/// The contributors.
const CONTRIBUTORS: [u64; 5] = [10, 11, 12, 13, 14];
/// The operators.
const OPERATORS: [u64; 2] = [20, 21];
/// The adapter authors (one of them also contributes).
const AUTHORS: [u64; 3] = [CAROL, 22, 10];
/// The base-model owners.
const OWNERS: [u64; 2] = [BOB, 23];
/// Everyone who may hold a credit (contributors too, by matched shares).
const CREDITED: [u64; 11] = [CAROL, 22, 10, BOB, 23, 20, 21, 11, 12, 13, 14];
/// An account that never contributes: a matched share naming it must credit nobody.
const STRANGER: u64 = 99;
/// The source's balance at the start of a case.
const SOURCE_START: u128 = 1_000_000_000_000_000_000_000_000;

/// One contribution: datanet index, contributor index, tokens, quality (curated datanets only).
type Contribution = (usize, usize, u32, u16);

#[derive(Clone, Debug)]
struct AdapterSpec {
	author: usize,
	model: usize,
	/// Frozen-version index (modulo the number of frozen versions) and a raw weight.
	training: Vec<(usize, u32)>,
}

#[derive(Clone, Debug)]
enum Op {
	/// Settle fees of (adapter index modulo the number of adapters, fee); `poison` adds an
	/// unknown adapter, which must make the whole call fail and change nothing.
	Settle {
		operator: usize,
		fees: Vec<(usize, u128)>,
		/// Matched shares: (fee index, contributor index, or the stranger past the end,
		/// frozen-version index, parts of a billion).
		matched: Vec<(usize, usize, usize, u32)>,
		poison: bool,
	},
	/// A record accepted into its datanet's open version.
	Contribute(Contribution),
	/// Freeze a datanet's open version (refused when nothing was accepted into it).
	Freeze(usize),
	/// Register an adapter on the versions frozen by then.
	Register(AdapterSpec),
	/// Claim a version: index modulo the datanet's versions plus one (its open version).
	Claim {
		who: usize,
		datanet: usize,
		version: usize,
	},
	ClaimCredits {
		who: usize,
	},
	/// Raw shares, normalised to a whole policy, and the matched part.
	SetPolicy([u32; 5], u32),
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
	(0..datanets, 0..CONTRIBUTORS.len(), prop_oneof![1u32..=10, 1u32..=1_000], 10u16..=300)
}

fn fee() -> impl Strategy<Value = u128> {
	prop_oneof![0u128..=100, 0u128..=100_000, 1_000_000_000u128..=1_000_000_000_000_000]
}

fn adapter() -> impl Strategy<Value = AdapterSpec> {
	(0..AUTHORS.len(), 0..OWNERS.len(), vec((0usize..64, 0u32..1_000), 1..=4))
		.prop_map(|(author, model, training)| AdapterSpec { author, model, training })
}

fn op(datanets: usize) -> impl Strategy<Value = Op> {
	prop_oneof![
		5 => (
			0..OPERATORS.len(),
			vec((0usize..8, fee()), 1..=4),
			vec((0usize..4, 0..=CONTRIBUTORS.len(), 0usize..64, 0u32..=250_000_000), 0..=4),
			prop::bool::weighted(0.1),
		)
			.prop_map(|(operator, fees, matched, poison)| Op::Settle {
				operator,
				fees,
				matched,
				poison
			}),
		3 => contribution(datanets).prop_map(Op::Contribute),
		2 => (0..datanets).prop_map(Op::Freeze),
		1 => adapter().prop_map(Op::Register),
		4 => (0..CONTRIBUTORS.len(), 0..datanets, 0usize..64)
			.prop_map(|(who, datanet, version)| Op::Claim { who, datanet, version }),
		1 => (0..CREDITED.len()).prop_map(|who| Op::ClaimCredits { who }),
		1 => (
			[0u32..100, 0u32..100, 0u32..100, 0u32..100, 0u32..100],
			0u32..=1_000_000_000
		)
			.prop_map(|(raw, matched)| Op::SetPolicy(raw, matched)),
	]
}

fn scenario() -> impl Strategy<Value = Scenario> {
	(1usize..=3).prop_flat_map(|n| {
		let per_datanet = |min| {
			(0..n)
				.map(move |d| vec(contribution(n).prop_map(move |c| (d, c.1, c.2, c.3)), min..=3))
				.collect::<Vec<_>>()
		};
		(
			vec(any::<bool>(), n),
			per_datanet(1),
			per_datanet(0),
			vec(adapter(), 1..=3),
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

/// A contributor's reward for one version: (contributor, datanet, version).
type Key = (u64, DatanetId, VersionId);

/// The naive bookkeeping: every fee split again, every part for a version credited to each
/// contributor in proportion to the weight they froze in it and the versions before it.
#[derive(Default)]
struct Reference {
	policy: [u128; 5],
	/// The policy's matched part of the datanets' share, in parts of a billion.
	matched: u128,
	/// Per datanet, the weight accepted into its open version, per contributor, and its
	/// records (a record may weigh 0).
	open: BTreeMap<DatanetId, (BTreeMap<u64, u128>, u32)>,
	/// The frozen versions of each datanet.
	versions: BTreeMap<DatanetId, VersionId>,
	/// `w_{c,u}`: the weight each contributor froze in each version (no zero entries).
	frozen: BTreeMap<Key, u128>,
	/// `W_v`: the weight frozen through each version.
	through: BTreeMap<(DatanetId, VersionId), u128>,
	/// Σ ⌊part × w / W⌋ and Σ ⌈part × w / W⌉ per contributor and version.
	floor: BTreeMap<Key, u128>,
	ceil: BTreeMap<Key, u128>,
	/// Per version `u`, the settlements that paid version `u` or a later one of its datanet.
	settles: BTreeMap<(DatanetId, VersionId), u128>,
	claimed: BTreeMap<Key, u128>,
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
		self.matched = u128::from(p.matched.deconstruct());
	}

	fn version_count(&self, datanet: DatanetId) -> VersionId {
		self.versions.get(&datanet).copied().unwrap_or_default()
	}

	/// Every frozen version, in datanet then version order.
	fn frozen_versions(&self) -> Vec<DatanetVersionRef> {
		self.versions
			.iter()
			.flat_map(|(datanet, count)| {
				(1..=*count).map(|version| DatanetVersionRef { datanet: *datanet, version })
			})
			.collect()
	}

	fn accept(&mut self, datanet: DatanetId, who: u64, weight: u128) {
		let (weights, records) = self.open.entry(datanet).or_default();
		*weights.entry(who).or_default() += weight;
		*records += 1;
	}

	/// Freezes `datanet`'s open version; `false` when it has no record.
	fn freeze(&mut self, datanet: DatanetId) -> bool {
		let (weights, records) = self.open.remove(&datanet).unwrap_or_default();
		if records == 0 {
			return false;
		}
		let version = self.version_count(datanet) + 1;
		self.versions.insert(datanet, version);
		let below = self.through.get(&(datanet, version - 1)).copied().unwrap_or_default();
		let mut total = below;
		for (who, weight) in weights {
			if weight > 0 {
				self.frozen.insert((who, datanet, version), weight);
				total += weight;
			}
		}
		self.through.insert((datanet, version), total);
		true
	}

	fn settle(
		&mut self,
		operator: u64,
		fees: &[(AdapterId, AdapterTerms<u64, u128>, u128)],
		matched: &[MatchedShare<u64>],
	) {
		const BILLION: u128 = 1_000_000_000;
		// The latest version each datanet's parts paid in this settlement.
		let mut touched: BTreeMap<DatanetId, VersionId> = BTreeMap::new();
		for (adapter, terms, fee) in fees {
			let [author, base_owner, datanets, op, treasury] =
				self.policy.map(|parts| fee * parts / BILLION);
			let mut dust = fee - author - base_owner - datanets - op - treasury;
			// Matched shares: only a contributor with weight frozen in a cited version.
			let matched_part = datanets * self.matched / BILLION;
			let mut paid = 0;
			for share in matched.iter().filter(|m| m.adapter == *adapter) {
				let amount = matched_part * u128::from(share.share.deconstruct()) / BILLION;
				let cited = terms
					.training
					.iter()
					.any(|(v, _)| v.datanet == share.datanet && v.version == share.version);
				let key = (share.contributor, share.datanet, share.version);
				if amount == 0 || !cited || !self.frozen.contains_key(&key) {
					continue;
				}
				paid += amount;
				*self.credits.entry((share.contributor, Role::Contributor)).or_default() += amount;
			}
			assert!(paid <= matched_part);
			let datanets = datanets - paid;
			let mut parts: BTreeMap<(DatanetId, VersionId), u128> = BTreeMap::new();
			for (version, weight) in &terms.training {
				*parts.entry((version.datanet, version.version)).or_default() +=
					datanets * u128::from(weight.deconstruct()) / BILLION;
			}
			dust += datanets - parts.values().sum::<u128>();
			let mut unpooled = 0;
			for ((datanet, version), part) in parts {
				if part == 0 {
					continue;
				}
				let total = self.through.get(&(datanet, version)).copied().unwrap_or_default();
				if total == 0 || part * PRECISION < total {
					unpooled += part;
					continue;
				}
				*self.pools.entry(datanet).or_default() += part;
				let latest = touched.entry(datanet).or_default();
				*latest = (*latest).max(version);
				for ((who, d, u), weight) in &self.frozen {
					if *d != datanet || *u > version {
						continue;
					}
					let key = (*who, datanet, *u);
					*self.floor.entry(key).or_default() += part * weight / total;
					*self.ceil.entry(key).or_default() += (part * weight).div_ceil(total);
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
		for (datanet, latest) in touched {
			for version in 1..=latest {
				*self.settles.entry((datanet, version)).or_default() += 1;
			}
		}
	}
}

/// Every check against the reference.
fn check(reference: &Reference, datanets: &[DatanetId]) {
	// Every contributor's pending rewards, per version (from `pending_rewards`).
	let pending = check_state();
	for key in pending.keys() {
		assert!(reference.frozen.contains_key(key), "{key:?} is pending without frozen weight");
	}
	for datanet in datanets {
		let versions = reference.version_count(*datanet);
		assert_eq!(<Datanets as DatanetWeights<u64>>::version_count(*datanet), versions);
		assert_eq!(
			Pools::<Test>::get(datanet).balance,
			reference.pools.get(datanet).copied().unwrap_or_default(),
			"pool balance of datanet {datanet}"
		);
		for version in 1..=versions {
			assert_eq!(
				<Datanets as DatanetWeights<u64>>::weight_through(*datanet, version),
				reference.through[&(*datanet, version)]
			);
			let settles = reference.settles.get(&(*datanet, version)).copied().unwrap_or_default();
			for who in CONTRIBUTORS {
				let key = (who, *datanet, version);
				let get = |map: &BTreeMap<Key, u128>| map.get(&key).copied().unwrap_or_default();
				let earned = get(&reference.claimed) + get(&pending);
				let (floor, ceil) = (get(&reference.floor), get(&reference.ceil));
				assert!(earned <= ceil, "{key:?}: earned {earned} above {ceil}");
				assert!(
					earned + settles >= floor,
					"{key:?}: earned {earned} below {floor} - {settles}"
				);
			}
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

/// Registers an adapter of `spec` on the versions frozen now.
fn register(reference: &Reference, models: &[u32], spec: &AdapterSpec) -> AdapterId {
	let versions = reference.frozen_versions();
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
}

fn run(scenario: Scenario) {
	new_test_ext().execute_with(|| {
		let mut reference = Reference::default();
		reference.set_policy(&Attribution::policy());
		Balances::set_balance(&SOURCE, SOURCE_START);
		for owner in OWNERS.into_iter().chain(AUTHORS) {
			fund(owner, BALANCE);
		}

		// A record accepted into the open version; `false` when the datanet has all its
		// versions and takes no more.
		let contribute_to = |reference: &mut Reference, ids: &[DatanetId], c: &Contribution| {
			let (d, who, tokens, quality) = *c;
			let who = CONTRIBUTORS[who];
			if reference.version_count(ids[d]) == MAX_VERSIONS {
				assert_noop!(
					Datanets::contribute(
						RuntimeOrigin::signed(who),
						ids[d],
						fresh_hash(),
						tokens,
						tokens,
						None
					),
					pallet_datanets::Error::<Test>::TooManyVersions
				);
				return;
			}
			if scenario.curated[d] {
				contribute_curated(ids[d], who, tokens, quality);
				reference.accept(ids[d], who, u128::from(tokens) * u128::from(quality) / 100);
			} else {
				contribute(ids[d], who, tokens);
				reference.accept(ids[d], who, u128::from(tokens));
			}
		};

		// Datanets and their versions.
		let ids: Vec<DatanetId> = scenario
			.curated
			.iter()
			.map(|curated| {
				let policy =
					if *curated { ContributionPolicy::Curated } else { ContributionPolicy::Open };
				new_datanet(policy)
			})
			.collect();
		for (d, id) in ids.iter().enumerate() {
			for c in &scenario.first[d] {
				contribute_to(&mut reference, &ids, c);
			}
			freeze(*id);
			assert!(reference.freeze(*id));
			if !scenario.second[d].is_empty() {
				for c in &scenario.second[d] {
					contribute_to(&mut reference, &ids, c);
				}
				freeze(*id);
				assert!(reference.freeze(*id));
			}
		}

		// Models and adapters.
		let models: Vec<_> = OWNERS.iter().map(|owner| new_model(*owner)).collect();
		let mut adapters: Vec<AdapterId> =
			scenario.adapters.iter().map(|spec| register(&reference, &models, spec)).collect();
		check(&reference, &ids);

		for op in &scenario.ops {
			match op {
				Op::Settle { operator, fees, matched, poison } => {
					let operator = OPERATORS[*operator];
					let mut fees: Vec<(AdapterId, u128)> =
						fees.iter().map(|(a, fee)| (adapters[a % adapters.len()], *fee)).collect();
					let frozen = reference.frozen_versions();
					let matched: Vec<MatchedShare<u64>> = matched
						.iter()
						.map(|(f, who, version, parts)| {
							let version = frozen[version % frozen.len()];
							MatchedShare {
								adapter: fees[f % fees.len()].0,
								datanet: version.datanet,
								version: version.version,
								contributor: CONTRIBUTORS.get(*who).copied().unwrap_or(STRANGER),
								share: Perbill::from_parts(*parts),
							}
						})
						.collect();
					if *poison {
						fees.insert(fees.len() / 2, (999, 1));
						let before = polkadot_sdk::sp_io::storage::root(StateVersion::V1);
						assert_eq!(
							<Attribution as SettleFees<u64, u128>>::settle(
								&SOURCE, &operator, &fees, &matched
							),
							Err(Error::<Test>::UnknownAdapter.into())
						);
						assert_eq!(before, polkadot_sdk::sp_io::storage::root(StateVersion::V1));
						continue;
					}
					let with_terms: Vec<_> = fees
						.iter()
						.map(|(a, fee)| {
							(*a, Models::adapter_terms(*a, 1).expect("registered"), *fee)
						})
						.collect();
					assert_ok!(<Attribution as SettleFees<u64, u128>>::settle(
						&SOURCE, &operator, &fees, &matched
					));
					reference.settle(operator, &with_terms, &matched);
				},
				Op::Contribute(c) => contribute_to(&mut reference, &ids, c),
				Op::Freeze(d) => {
					let id = ids[*d];
					let result = Datanets::freeze_version(RuntimeOrigin::signed(ALICE), id);
					if reference.freeze(id) {
						assert_ok!(result);
					} else {
						assert!(result.is_err(), "a version without records is not frozen");
					}
				},
				Op::Register(spec) => adapters.push(register(&reference, &models, spec)),
				Op::Claim { who, datanet, version } => {
					let (who, datanet) = (CONTRIBUTORS[*who], ids[*datanet]);
					let version = (*version as VersionId) % (reference.version_count(datanet) + 1);
					claim(&mut reference, who, datanet, version + 1);
				},
				Op::ClaimCredits { who } => {
					let who = CREDITED[*who];
					claim_credits(&mut reference, who);
				},
				Op::SetPolicy(raw, matched) => {
					let p = normalise(raw);
					let policy = FeePolicy {
						author: Perbill::from_parts(p[0]),
						base_owner: Perbill::from_parts(p[1]),
						datanets: Perbill::from_parts(p[2]),
						operator: Perbill::from_parts(p[3]),
						treasury: Perbill::from_parts(p[4]),
						matched: Perbill::from_parts(*matched),
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
				for version in 1..=reference.version_count(*datanet) {
					claim(&mut reference, who, *datanet, version);
				}
			}
		}
		for who in CREDITED {
			claim_credits(&mut reference, who);
		}
		check(&reference, &ids);
		assert_eq!(Credits::<Test>::iter().count(), 0);
		for datanet in &ids {
			// At most one unit per contributor's version and settlement that paid it.
			let bound: u128 = reference
				.frozen
				.keys()
				.filter(|(_, d, _)| d == datanet)
				.map(|(_, d, u)| reference.settles.get(&(*d, *u)).copied().unwrap_or_default())
				.sum();
			let left = Pools::<Test>::get(datanet).balance;
			assert!(left <= bound, "datanet {datanet} keeps {left}, more than {bound}");
		}
	});
}

/// `who` claims `version` of `datanet`: exactly its pending reward, or `NothingToClaim`.
fn claim(reference: &mut Reference, who: u64, datanet: DatanetId, version: VersionId) {
	let pending = Attribution::pending_rewards(&who)
		.versions
		.into_iter()
		.find(|(d, v, _)| *d == datanet && *v == version)
		.map(|(_, _, amount)| amount)
		.unwrap_or_default();
	let before = free(who);
	let result = Attribution::claim(RuntimeOrigin::signed(who), datanet, version);
	if pending == 0 {
		assert_eq!(result, Err(Error::<Test>::NothingToClaim.into()));
		return;
	}
	assert_ok!(result);
	assert_eq!(free(who), before + pending);
	*reference.claimed.entry((who, datanet, version)).or_default() += pending;
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
