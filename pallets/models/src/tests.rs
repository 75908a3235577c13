//! Unit tests on the mock runtime.

use crate::{
	mock::{Models, *},
	Models as ModelRecords, *,
};
use polkadot_sdk::{
	frame_support::{
		assert_noop, assert_ok,
		traits::{
			fungible::{InspectHold, Mutate},
			Get, Hooks,
		},
	},
	sp_runtime::{DispatchError, DispatchResult, TokenError},
};

type Error = crate::Error<Test>;

fn bounded<S: Get<u32>>(bytes: &[u8]) -> BoundedVec<u8, S> {
	BoundedVec::try_from(bytes.to_vec()).expect("fits its bound")
}

fn hash(n: u8) -> H256 {
	H256::repeat_byte(n)
}

fn v(datanet: u32, version: u32) -> DatanetVersionRef {
	DatanetVersionRef { datanet, version }
}

fn price(per_1k_input: u128, per_1k_output: u128) -> Price<u128> {
	Price { per_1k_input, per_1k_output }
}

fn held(reason: HoldReason, who: u64) -> u128 {
	Balances::balance_on_hold(&RuntimeHoldReason::Models(reason), &who)
}

/// An evaluation that passes, with manifest hash `hash(n)`.
fn evaluation(n: u8) -> Evaluation {
	Evaluation {
		manifest_hash: hash(n),
		heldout_records: 32,
		heldout_tokens: 1_024,
		trained_tokens: 250_000,
		base_loss: 2_450_000,
		adapter_loss: 1_210_000,
		base_token_accuracy: Perbill::from_percent(38),
		adapter_token_accuracy: Perbill::from_percent(71),
		base_exact_match: Perbill::from_percent(3),
		adapter_exact_match: Perbill::from_percent(44),
	}
}

/// Registers a model with artifact hash `hash(n)` as `owner`.
fn model(owner: u64, n: u8) -> ModelId {
	let id = NextModelId::<Test>::get();
	assert_ok!(Models::register_model(
		RuntimeOrigin::signed(owner),
		hash(n),
		bounded(b"llama"),
		bounded(b"Apache-2.0"),
		bounded(b"ipfs://model"),
	));
	id
}

/// The arguments of `register_adapter`, with defaults that pass.
struct NewAdapter {
	author: u64,
	base_model: ModelId,
	parent: Option<AdapterId>,
	artifact: H256,
	rank: u32,
	modules: Vec<&'static str>,
	price: Price<u128>,
	training: Vec<(DatanetVersionRef, Perbill)>,
}

impl NewAdapter {
	fn on(base_model: ModelId, artifact: u8) -> Self {
		Self {
			author: BOB,
			base_model,
			parent: None,
			artifact: hash(artifact),
			rank: 8,
			modules: vec!["q_proj", "v_proj"],
			price: price(3, 5),
			training: vec![(v(1, 1), Perbill::one())],
		}
	}

	fn parent(mut self, parent: AdapterId) -> Self {
		self.parent = Some(parent);
		self
	}

	fn author(mut self, author: u64) -> Self {
		self.author = author;
		self
	}

	fn training(mut self, training: Vec<(DatanetVersionRef, Perbill)>) -> Self {
		self.training = training;
		self
	}

	fn register(self) -> DispatchResult {
		let modules: Vec<ModuleNameOf<Test>> =
			self.modules.iter().map(|m| bounded(m.as_bytes())).collect();
		Models::register_adapter(
			RuntimeOrigin::signed(self.author),
			self.base_model,
			self.parent,
			self.artifact,
			self.rank,
			BoundedVec::try_from(modules).expect("fits MaxTargetModules"),
			self.price,
			bounded(b"MIT"),
			bounded(b"ipfs://adapter"),
			BoundedVec::try_from(self.training).expect("fits MaxTrainingVersions"),
		)
	}

	/// Registers and returns the new adapter's id.
	fn id(self) -> AdapterId {
		let id = NextAdapterId::<Test>::get();
		assert_ok!(self.register());
		id
	}
}

// ---- register_model ----

#[test]
fn register_model_works() {
	build_and_execute(|| {
		run_to_block(3);
		assert_ok!(Models::register_model(
			RuntimeOrigin::signed(ALICE),
			hash(1),
			bounded(b"llama"),
			bounded(b"Apache-2.0"),
			bounded(b"ipfs://smollm2"),
		));
		System::assert_has_event(
			Event::ModelRegistered { model: 0, owner: ALICE, artifact_hash: hash(1) }.into(),
		);
		let info = ModelRecords::<Test>::get(0).expect("registered");
		assert_eq!(info.owner, ALICE);
		assert_eq!(info.artifact_hash, hash(1));
		assert_eq!(info.architecture.as_slice(), b"llama");
		assert_eq!(info.license.as_slice(), b"Apache-2.0");
		assert_eq!(info.metadata_uri.as_slice(), b"ipfs://smollm2");
		assert_eq!(info.deposit, MODEL_DEPOSIT);
		assert_eq!(info.registered_at, 3);
		assert_eq!(NextModelId::<Test>::get(), 1);
		assert_eq!(ArtifactIndex::<Test>::get(hash(1)), Some(ArtifactOwner::Model(0)));
		assert_eq!(held(HoldReason::ModelDeposit, ALICE), MODEL_DEPOSIT);
		assert_eq!(Balances::free_balance(ALICE), BALANCE - MODEL_DEPOSIT);

		// Ids count up; deposits add up.
		assert_eq!(model(ALICE, 2), 1);
		assert_eq!(held(HoldReason::ModelDeposit, ALICE), 2 * MODEL_DEPOSIT);
	});
}

#[test]
fn register_model_duplicate_artifact_fails() {
	build_and_execute(|| {
		model(ALICE, 1);
		assert_noop!(
			Models::register_model(
				RuntimeOrigin::signed(BOB),
				hash(1),
				bounded(b"llama"),
				bounded(b"MIT"),
				bounded(b"x"),
			),
			Error::DuplicateArtifact
		);
		// An adapter's artifact hash is taken too.
		let adapter = NewAdapter::on(0, 2).id();
		assert_eq!(ArtifactIndex::<Test>::get(hash(2)), Some(ArtifactOwner::Adapter(adapter)));
		assert_noop!(
			Models::register_model(
				RuntimeOrigin::signed(BOB),
				hash(2),
				bounded(b"llama"),
				bounded(b"MIT"),
				bounded(b"x"),
			),
			Error::DuplicateArtifact
		);
	});
}

#[test]
fn register_model_overflow_fails() {
	build_and_execute(|| {
		NextModelId::<Test>::put(ModelId::MAX);
		assert_noop!(
			Models::register_model(
				RuntimeOrigin::signed(ALICE),
				hash(1),
				bounded(b"llama"),
				bounded(b"MIT"),
				bounded(b"x"),
			),
			Error::Overflow
		);
	});
}

#[test]
fn register_model_without_deposit_fails() {
	build_and_execute(|| {
		assert_noop!(
			Models::register_model(
				RuntimeOrigin::signed(DAVE),
				hash(1),
				bounded(b"llama"),
				bounded(b"MIT"),
				bounded(b"x"),
			),
			TokenError::FundsUnavailable
		);
	});
}

#[test]
fn register_model_unsigned_fails() {
	build_and_execute(|| {
		assert_noop!(
			Models::register_model(
				RuntimeOrigin::root(),
				hash(1),
				bounded(b"llama"),
				bounded(b"MIT"),
				bounded(b"x"),
			),
			DispatchError::BadOrigin
		);
	});
}

// ---- register_adapter ----

#[test]
fn register_adapter_works() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		run_to_block(4);
		let training =
			vec![(v(1, 1), Perbill::from_percent(60)), (v(2, 1), Perbill::from_percent(40))];
		assert_ok!(NewAdapter::on(base, 2).training(training.clone()).register());
		System::assert_has_event(
			Event::AdapterRegistered {
				adapter: 0,
				author: BOB,
				base_model: base,
				parent: None,
				artifact_hash: hash(2),
			}
			.into(),
		);
		let info = Adapters::<Test>::get(0).expect("registered");
		assert_eq!(info.author, BOB);
		assert_eq!(info.base_model, base);
		assert_eq!(info.parent, None);
		assert_eq!(info.artifact_hash, hash(2));
		assert_eq!(info.rank, 8);
		assert_eq!(info.target_modules.len(), 2);
		assert_eq!(info.price, price(3, 5));
		assert_eq!(info.next_price, None);
		assert_eq!(info.previous_price, None);
		assert_eq!(info.training.to_vec(), training);
		assert_eq!(info.status, AdapterStatus::Active);
		assert_eq!(info.depth, 0);
		assert_eq!(info.deposit, ADAPTER_DEPOSIT);
		assert_eq!(info.registered_at, 4);
		assert_eq!(NextAdapterId::<Test>::get(), 1);
		assert_eq!(ArtifactIndex::<Test>::get(hash(2)), Some(ArtifactOwner::Adapter(0)));
		assert_eq!(held(HoldReason::AdapterDeposit, BOB), ADAPTER_DEPOSIT);
		assert_eq!(held(HoldReason::ModelDeposit, BOB), 0);
		assert_eq!(Balances::free_balance(BOB), BALANCE - ADAPTER_DEPOSIT);
	});
}

#[test]
fn register_adapter_with_parent_works() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		let root = NewAdapter::on(base, 2).id();
		// Another author may build on it, and on a deprecated parent too.
		assert_ok!(Models::deprecate_adapter(RuntimeOrigin::signed(BOB), root));
		let child = NewAdapter::on(base, 3).parent(root).author(CAROL).id();
		System::assert_has_event(
			Event::AdapterRegistered {
				adapter: child,
				author: CAROL,
				base_model: base,
				parent: Some(root),
				artifact_hash: hash(3),
			}
			.into(),
		);
		let info = Adapters::<Test>::get(child).expect("registered");
		assert_eq!(info.parent, Some(root));
		assert_eq!(info.depth, 1);
		assert_eq!(held(HoldReason::AdapterDeposit, CAROL), ADAPTER_DEPOSIT);
	});
}

#[test]
fn register_adapter_unknown_model_fails() {
	build_and_execute(|| {
		assert_noop!(NewAdapter::on(7, 2).register(), Error::UnknownModel);
	});
}

#[test]
fn register_adapter_unknown_parent_fails() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		assert_noop!(NewAdapter::on(base, 2).parent(9).register(), Error::UnknownParent);
	});
}

#[test]
fn register_adapter_parent_on_other_base_fails() {
	build_and_execute(|| {
		let first = model(ALICE, 1);
		let second = model(ALICE, 2);
		let parent = NewAdapter::on(first, 3).id();
		assert_noop!(NewAdapter::on(second, 4).parent(parent).register(), Error::ParentOnOtherBase);
	});
}

#[test]
fn register_adapter_parent_revoked_fails() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		let parent = NewAdapter::on(base, 2).id();
		assert_ok!(Models::revoke_adapter(RuntimeOrigin::root(), parent));
		assert_noop!(NewAdapter::on(base, 3).parent(parent).register(), Error::ParentRevoked);
	});
}

#[test]
fn register_adapter_lineage_too_deep_fails() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		let mut parent = NewAdapter::on(base, 10).id();
		for depth in 1..=MAX_DEPTH {
			parent = NewAdapter::on(base, 10 + depth as u8).parent(parent).id();
			assert_eq!(Adapters::<Test>::get(parent).map(|a| a.depth), Some(depth));
		}
		assert_noop!(NewAdapter::on(base, 99).parent(parent).register(), Error::LineageTooDeep);
	});
}

#[test]
fn register_adapter_unknown_version_fails() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		// Datanet 1 has versions 1 and 2 only: version 3 is not frozen (does not exist).
		let training =
			vec![(v(1, 1), Perbill::from_percent(50)), (v(1, 3), Perbill::from_percent(50))];
		assert_noop!(NewAdapter::on(base, 2).training(training).register(), Error::UnknownVersion);
		// Once frozen, it may be cited.
		MockDatanets::freeze(1, 3);
		let training =
			vec![(v(1, 1), Perbill::from_percent(50)), (v(1, 3), Perbill::from_percent(50))];
		assert_ok!(NewAdapter::on(base, 2).training(training).register());
	});
}

#[test]
fn register_adapter_duplicate_version_fails() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		let training =
			vec![(v(1, 1), Perbill::from_percent(50)), (v(1, 1), Perbill::from_percent(50))];
		assert_noop!(
			NewAdapter::on(base, 2).training(training).register(),
			Error::DuplicateVersion
		);
	});
}

#[test]
fn register_adapter_weights_not_full_fails() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		for training in [
			// None at all.
			vec![],
			// Below 100%.
			vec![(v(1, 1), Perbill::from_percent(50)), (v(2, 1), Perbill::from_percent(49))],
			// One part short.
			vec![
				(v(1, 1), Perbill::from_parts(500_000_000)),
				(v(2, 1), Perbill::from_parts(499_999_999)),
			],
			// Above 100%.
			vec![(v(1, 1), Perbill::one()), (v(2, 1), Perbill::from_parts(1))],
			// Far above.
			vec![(v(1, 1), Perbill::one()), (v(1, 2), Perbill::one()), (v(2, 1), Perbill::one())],
		] {
			assert_noop!(
				NewAdapter::on(base, 2).training(training).register(),
				Error::WeightsNotFull
			);
		}
		// Exactly 100% in three uneven parts.
		let training = vec![
			(v(1, 1), Perbill::from_parts(333_333_333)),
			(v(1, 2), Perbill::from_parts(333_333_333)),
			(v(2, 1), Perbill::from_parts(333_333_334)),
		];
		assert_ok!(NewAdapter::on(base, 2).training(training).register());
	});
}

#[test]
fn weights_overflowing_u32_are_not_full_works() {
	// 5 × 10^9 parts overflow a u32 sum: checked arithmetic says "not 100%", never wraps.
	let five = [(v(1, 1), Perbill::one()); 5];
	assert!(!Models::weights_full(&five));
	// 5 × 10^9 + 294_967_296 parts would wrap to exactly 10^9 (2^32 + 10^9) in u32.
	let wrapping = [
		(v(1, 1), Perbill::one()),
		(v(1, 2), Perbill::one()),
		(v(1, 3), Perbill::one()),
		(v(1, 4), Perbill::one()),
		(v(1, 5), Perbill::one()),
		(v(1, 6), Perbill::from_parts(294_967_296)),
	];
	assert!(!Models::weights_full(&wrapping));
	assert!(Models::weights_full(&[(v(1, 1), Perbill::one())]));
	assert!(!Models::weights_full(&[]));
}

#[test]
fn register_adapter_rank_out_of_range_fails() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		let max = <Test as Config>::MaxRank::get();
		for rank in [0, max + 1] {
			let mut new = NewAdapter::on(base, 2);
			new.rank = rank;
			assert_noop!(new.register(), Error::RankOutOfRange);
		}
		let mut new = NewAdapter::on(base, 2);
		new.rank = max;
		assert_ok!(new.register());
	});
}

#[test]
fn register_adapter_no_target_modules_fails() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		let mut new = NewAdapter::on(base, 2);
		new.modules = vec![];
		assert_noop!(new.register(), Error::NoTargetModules);
	});
}

#[test]
fn register_adapter_duplicate_target_module_fails() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		let mut new = NewAdapter::on(base, 2);
		new.modules = vec!["q_proj", "k_proj", "q_proj"];
		assert_noop!(new.register(), Error::DuplicateTargetModule);
	});
}

#[test]
fn register_adapter_duplicate_artifact_fails() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		NewAdapter::on(base, 2).id();
		// Twice the same adapter, even by another author.
		assert_noop!(NewAdapter::on(base, 2).author(CAROL).register(), Error::DuplicateArtifact);
		// A model's artifact hash.
		assert_noop!(NewAdapter::on(base, 1).register(), Error::DuplicateArtifact);
	});
}

#[test]
fn register_adapter_overflow_fails() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		NextAdapterId::<Test>::put(AdapterId::MAX);
		assert_noop!(NewAdapter::on(base, 2).register(), Error::Overflow);
	});
}

#[test]
fn register_adapter_without_deposit_fails() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		assert_noop!(NewAdapter::on(base, 2).author(DAVE).register(), TokenError::FundsUnavailable);
	});
}

// ---- deprecate_adapter ----

#[test]
fn deprecate_adapter_works() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		let adapter = NewAdapter::on(base, 2).id();
		assert_ok!(Models::deprecate_adapter(RuntimeOrigin::signed(BOB), adapter));
		System::assert_has_event(Event::AdapterDeprecated { adapter }.into());
		assert_eq!(
			Adapters::<Test>::get(adapter).map(|a| a.status),
			Some(AdapterStatus::Deprecated)
		);
		// Still resolvable, deposit still held.
		assert_eq!(Models::lineage(adapter).map(|l| l.status), Some(AdapterStatus::Deprecated));
		assert_eq!(held(HoldReason::AdapterDeposit, BOB), ADAPTER_DEPOSIT);
	});
}

#[test]
fn deprecate_adapter_unknown_adapter_fails() {
	build_and_execute(|| {
		assert_noop!(
			Models::deprecate_adapter(RuntimeOrigin::signed(BOB), 0),
			Error::UnknownAdapter
		);
	});
}

#[test]
fn deprecate_adapter_not_author_fails() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		let adapter = NewAdapter::on(base, 2).id();
		// Not even the base model's owner.
		assert_noop!(
			Models::deprecate_adapter(RuntimeOrigin::signed(ALICE), adapter),
			Error::NotAuthor
		);
	});
}

#[test]
fn deprecate_adapter_not_active_fails() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		let adapter = NewAdapter::on(base, 2).id();
		assert_ok!(Models::deprecate_adapter(RuntimeOrigin::signed(BOB), adapter));
		assert_noop!(
			Models::deprecate_adapter(RuntimeOrigin::signed(BOB), adapter),
			Error::NotActive
		);
		let revoked = NewAdapter::on(base, 3).id();
		assert_ok!(Models::revoke_adapter(RuntimeOrigin::root(), revoked));
		assert_noop!(
			Models::deprecate_adapter(RuntimeOrigin::signed(BOB), revoked),
			Error::NotActive
		);
	});
}

// ---- revoke_adapter ----

#[test]
fn revoke_adapter_works() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		let active = NewAdapter::on(base, 2).id();
		let deprecated = NewAdapter::on(base, 3).id();
		assert_ok!(Models::deprecate_adapter(RuntimeOrigin::signed(BOB), deprecated));
		for adapter in [active, deprecated] {
			assert_ok!(Models::revoke_adapter(RuntimeOrigin::root(), adapter));
			System::assert_has_event(Event::AdapterRevoked { adapter }.into());
			assert_eq!(
				Adapters::<Test>::get(adapter).map(|a| a.status),
				Some(AdapterStatus::Revoked)
			);
		}
		// The records and deposits stay.
		assert_eq!(held(HoldReason::AdapterDeposit, BOB), 2 * ADAPTER_DEPOSIT);
		assert_eq!(ArtifactIndex::<Test>::get(hash(2)), Some(ArtifactOwner::Adapter(active)));
	});
}

#[test]
fn revoke_adapter_bad_origin_fails() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		let adapter = NewAdapter::on(base, 2).id();
		assert_noop!(
			Models::revoke_adapter(RuntimeOrigin::signed(BOB), adapter),
			DispatchError::BadOrigin
		);
	});
}

#[test]
fn revoke_adapter_unknown_adapter_fails() {
	build_and_execute(|| {
		assert_noop!(Models::revoke_adapter(RuntimeOrigin::root(), 3), Error::UnknownAdapter);
	});
}

#[test]
fn revoke_adapter_already_revoked_fails() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		let adapter = NewAdapter::on(base, 2).id();
		assert_ok!(Models::revoke_adapter(RuntimeOrigin::root(), adapter));
		assert_noop!(Models::revoke_adapter(RuntimeOrigin::root(), adapter), Error::AlreadyRevoked);
	});
}

// ---- set_price and price_at ----

#[test]
fn set_price_works() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		let adapter = NewAdapter::on(base, 2).id();
		run_to_block(5);
		assert_ok!(Models::set_price(RuntimeOrigin::signed(BOB), adapter, price(7, 11)));
		let effective_at = 5 + PRICE_DELAY;
		System::assert_has_event(
			Event::PriceChangeScheduled { adapter, price: price(7, 11), effective_at }.into(),
		);
		let info = Adapters::<Test>::get(adapter).expect("registered");
		assert_eq!(info.price, price(3, 5));
		assert_eq!(info.next_price, Some((effective_at, price(7, 11))));
		// A deprecated adapter's author may still change its price.
		assert_ok!(Models::deprecate_adapter(RuntimeOrigin::signed(BOB), adapter));
		assert_ok!(Models::set_price(RuntimeOrigin::signed(BOB), adapter, price(8, 12)));
	});
}

#[test]
fn usage_is_charged_at_the_lowest_price_in_force_over_its_serving_blocks() {
	use lineage_primitives::usage::AdapterInspect;
	build_and_execute(|| {
		let base = model(ALICE, 1);
		let adapter = NewAdapter::on(base, 2).id(); // at block 1, price (3, 5)
		let lowest = |first, last| {
			Models::adapter_terms_over(adapter, first, last)
				.map(|t| (t.per_1k_input, t.per_1k_output))
		};
		// A rise set at 5 is in force from 15; a fall of the output price, set at 20, from 30.
		run_to_block(5);
		assert_ok!(Models::set_price(RuntimeOrigin::signed(BOB), adapter, price(9, 9)));
		run_to_block(20);
		assert_ok!(Models::set_price(RuntimeOrigin::signed(BOB), adapter, price(9, 2)));

		// Usage served before the rise pays the old price, however late it is charged.
		assert_eq!(lowest(2, 14), Some((3, 5)));
		// Served across the rise: the lower, old price.
		assert_eq!(lowest(10, 20), Some((3, 5)));
		// Served after the rise only: the new price.
		assert_eq!(lowest(15, 29), Some((9, 9)));
		// Across the fall: the lower output price counts, input stays.
		assert_eq!(lowest(15, 30), Some((9, 2)));
		assert_eq!(lowest(30, 30), Some((9, 2)));
		// Each price on its own: the lowest input over 2..=30 is 3, the lowest output 2.
		assert_eq!(lowest(2, 30), Some((3, 2)));
		// Blocks before registration count as the registration block; one block is `price_at`.
		assert_eq!(lowest(0, 0), Some((3, 5)));
		assert_eq!(
			Models::adapter_terms(adapter, 15).map(|t| (t.per_1k_input, t.per_1k_output)),
			Some((9, 9))
		);
		assert_eq!(Models::adapter_terms_over(adapter + 1, 1, 2), None);
	});
}

#[test]
fn price_scheduling_across_the_delay_works() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		let adapter = NewAdapter::on(base, 2).id(); // at block 1, price (3, 5)
		let (p0, p1, p2, p3) = (price(3, 5), price(4, 6), price(5, 7), price(6, 8));

		// Before registration there is no price; an unknown adapter has none.
		assert_eq!(Models::price_at(adapter, 0), None);
		assert_eq!(Models::price_at(adapter + 1, 1), None);
		assert_eq!(Models::price_at(adapter, 1), Some(p0));

		// Set at 5: in force from 15.
		run_to_block(5);
		assert_ok!(Models::set_price(RuntimeOrigin::signed(BOB), adapter, p1));
		assert_eq!(Models::price_at(adapter, 5), Some(p0));
		assert_eq!(Models::price_at(adapter, 14), Some(p0));
		assert_eq!(Models::price_at(adapter, 15), Some(p1));
		assert_eq!(Models::price_at(adapter, 1_000), Some(p1));
		run_to_block(14);
		assert_eq!(Models::lineage(adapter).map(|l| l.price), Some(p0));
		run_to_block(15);
		assert_eq!(Models::lineage(adapter).map(|l| l.price), Some(p1));

		// Set at 20, after p1 took effect: p1 is folded in, p2 is in force from 30, and blocks
		// before 15 still see p0.
		run_to_block(20);
		assert_ok!(Models::set_price(RuntimeOrigin::signed(BOB), adapter, p2));
		let info = Adapters::<Test>::get(adapter).expect("registered");
		assert_eq!(info.price, p1);
		assert_eq!(info.previous_price, Some((15, p0)));
		assert_eq!(info.next_price, Some((30, p2)));
		System::assert_has_event(
			Event::PriceChangeScheduled { adapter, price: p2, effective_at: 30 }.into(),
		);
		assert_eq!(Models::price_at(adapter, 10), Some(p0));
		assert_eq!(Models::price_at(adapter, 14), Some(p0));
		assert_eq!(Models::price_at(adapter, 15), Some(p1));
		assert_eq!(Models::price_at(adapter, 29), Some(p1));
		assert_eq!(Models::price_at(adapter, 30), Some(p2));

		// Set at 25, before p2 took effect: p2 is replaced and never applies.
		run_to_block(25);
		assert_ok!(Models::set_price(RuntimeOrigin::signed(BOB), adapter, p3));
		assert_eq!(Models::price_at(adapter, 15), Some(p1));
		assert_eq!(Models::price_at(adapter, 30), Some(p1));
		assert_eq!(Models::price_at(adapter, 34), Some(p1));
		assert_eq!(Models::price_at(adapter, 35), Some(p3));
		let info = Adapters::<Test>::get(adapter).expect("registered");
		assert_eq!(info.previous_price, Some((15, p0)));
		assert_eq!(info.next_price, Some((35, p3)));
	});
}

#[test]
fn price_at_is_exact_within_the_delay_works() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		let adapter = NewAdapter::on(base, 2).id();
		// The author changes the price as often as possible; every block no older than
		// PriceChangeDelay keeps the price it had.
		let mut history: Vec<(u32, Price<u128>)> = vec![(1, price(3, 5))];
		let price_then = |history: &Vec<(u32, Price<u128>)>, block: u32| {
			history.iter().rev().find(|(from, _)| *from <= block).map(|(_, p)| *p)
		};
		let mut block = 1;
		for i in 0..12u128 {
			block += PRICE_DELAY / 2 + (i as u32 % 3) * PRICE_DELAY / 2;
			run_to_block(block);
			let new = price(10 + i, 20 + i);
			assert_ok!(Models::set_price(RuntimeOrigin::signed(BOB), adapter, new));
			// Unapplied schedules are replaced.
			history.retain(|(from, _)| *from <= block);
			history.push((block + PRICE_DELAY, new));
			for b in block.saturating_sub(PRICE_DELAY).max(1)..block + 3 * PRICE_DELAY {
				assert_eq!(Models::price_at(adapter, b), price_then(&history, b), "block {b}");
			}
		}
	});
}

#[test]
fn set_price_unknown_adapter_fails() {
	build_and_execute(|| {
		assert_noop!(
			Models::set_price(RuntimeOrigin::signed(BOB), 0, price(1, 1)),
			Error::UnknownAdapter
		);
	});
}

#[test]
fn set_price_not_author_fails() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		let adapter = NewAdapter::on(base, 2).id();
		assert_noop!(
			Models::set_price(RuntimeOrigin::signed(CAROL), adapter, price(1, 1)),
			Error::NotAuthor
		);
	});
}

#[test]
fn set_price_revoked_fails() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		let adapter = NewAdapter::on(base, 2).id();
		assert_ok!(Models::revoke_adapter(RuntimeOrigin::root(), adapter));
		assert_noop!(
			Models::set_price(RuntimeOrigin::signed(BOB), adapter, price(1, 1)),
			Error::AlreadyRevoked
		);
	});
}

#[test]
fn set_price_overflow_fails() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		let adapter = NewAdapter::on(base, 2).id();
		run_to_block(u32::MAX - PRICE_DELAY + 1);
		assert_noop!(
			Models::set_price(RuntimeOrigin::signed(BOB), adapter, price(1, 1)),
			Error::Overflow
		);
	});
}

// ---- post_evaluation ----

#[test]
fn post_evaluation_works() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		let adapter = NewAdapter::on(base, 2).id();
		assert_eq!(Evaluations::<Test>::get(adapter), None);
		assert_ok!(Models::post_evaluation(RuntimeOrigin::signed(BOB), adapter, evaluation(9)));
		System::assert_has_event(
			Event::EvaluationPosted {
				adapter,
				manifest_hash: hash(9),
				base_loss: 2_450_000,
				adapter_loss: 1_210_000,
			}
			.into(),
		);
		assert_eq!(Evaluations::<Test>::get(adapter), Some(evaluation(9)));
		assert_eq!(held(HoldReason::EvaluationDeposit, BOB), EVALUATION_DEPOSIT);
		assert_eq!(held(HoldReason::AdapterDeposit, BOB), ADAPTER_DEPOSIT);
		assert_eq!(Balances::free_balance(BOB), BALANCE - ADAPTER_DEPOSIT - EVALUATION_DEPOSIT);

		// A deprecated adapter may still be evaluated; deposits add up, per evaluation.
		let deprecated = NewAdapter::on(base, 3).id();
		assert_ok!(Models::deprecate_adapter(RuntimeOrigin::signed(BOB), deprecated));
		assert_ok!(Models::post_evaluation(RuntimeOrigin::signed(BOB), deprecated, evaluation(10)));
		assert_eq!(Evaluations::<Test>::get(deprecated), Some(evaluation(10)));
		assert_eq!(held(HoldReason::EvaluationDeposit, BOB), 2 * EVALUATION_DEPOSIT);
		// The adapter's record does not change.
		assert_eq!(
			Adapters::<Test>::get(deprecated).map(|a| a.status),
			Some(AdapterStatus::Deprecated)
		);
	});
}

#[test]
fn post_evaluation_unknown_adapter_fails() {
	build_and_execute(|| {
		assert_noop!(
			Models::post_evaluation(RuntimeOrigin::signed(BOB), 0, evaluation(9)),
			Error::UnknownAdapter
		);
	});
}

#[test]
fn post_evaluation_not_author_fails() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		let adapter = NewAdapter::on(base, 2).id();
		// Not even the base model's owner.
		for who in [ALICE, CAROL] {
			assert_noop!(
				Models::post_evaluation(RuntimeOrigin::signed(who), adapter, evaluation(9)),
				Error::NotAuthor
			);
		}
	});
}

#[test]
fn post_evaluation_revoked_fails() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		let adapter = NewAdapter::on(base, 2).id();
		assert_ok!(Models::revoke_adapter(RuntimeOrigin::root(), adapter));
		assert_noop!(
			Models::post_evaluation(RuntimeOrigin::signed(BOB), adapter, evaluation(9)),
			Error::AlreadyRevoked
		);
	});
}

#[test]
fn post_evaluation_already_evaluated_fails() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		let adapter = NewAdapter::on(base, 2).id();
		assert_ok!(Models::post_evaluation(RuntimeOrigin::signed(BOB), adapter, evaluation(9)));
		// Neither again nor with other numbers: the first evaluation stands.
		for again in [evaluation(9), evaluation(10)] {
			assert_noop!(
				Models::post_evaluation(RuntimeOrigin::signed(BOB), adapter, again),
				Error::AlreadyEvaluated
			);
		}
		assert_eq!(Evaluations::<Test>::get(adapter), Some(evaluation(9)));
		// Revoked later, it keeps its evaluation (and its deposit).
		assert_ok!(Models::revoke_adapter(RuntimeOrigin::root(), adapter));
		assert_eq!(Evaluations::<Test>::get(adapter), Some(evaluation(9)));
		assert_eq!(held(HoldReason::EvaluationDeposit, BOB), EVALUATION_DEPOSIT);
	});
}

#[test]
fn post_evaluation_empty_evaluation_fails() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		let adapter = NewAdapter::on(base, 2).id();
		let no_records = Evaluation { heldout_records: 0, ..evaluation(9) };
		let no_tokens = Evaluation { heldout_tokens: 0, ..evaluation(9) };
		let nothing = Evaluation { heldout_records: 0, heldout_tokens: 0, ..evaluation(9) };
		for empty in [no_records, no_tokens, nothing] {
			assert_noop!(
				Models::post_evaluation(RuntimeOrigin::signed(BOB), adapter, empty),
				Error::EmptyEvaluation
			);
		}
		// One record with one answer token is enough.
		let smallest = Evaluation { heldout_records: 1, heldout_tokens: 1, ..evaluation(9) };
		assert_ok!(Models::post_evaluation(RuntimeOrigin::signed(BOB), adapter, smallest));
	});
}

#[test]
fn post_evaluation_without_deposit_fails() {
	build_and_execute(|| {
		const EVE: u64 = 5;
		let base = model(ALICE, 1);
		// Eve has just enough for the adapter's deposit and the existential deposit.
		let existential: u128 =
			<Test as polkadot_sdk::pallet_balances::Config>::ExistentialDeposit::get();
		let balance = ADAPTER_DEPOSIT + existential;
		assert_eq!(<Balances as Mutate<u64>>::set_balance(&EVE, balance), balance);
		let adapter = NewAdapter::on(base, 2).author(EVE).id();
		assert_noop!(
			Models::post_evaluation(RuntimeOrigin::signed(EVE), adapter, evaluation(9)),
			TokenError::FundsUnavailable
		);
	});
}

#[test]
fn post_evaluation_unsigned_fails() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		let adapter = NewAdapter::on(base, 2).id();
		assert_noop!(
			Models::post_evaluation(RuntimeOrigin::root(), adapter, evaluation(9)),
			DispatchError::BadOrigin
		);
	});
}

// ---- lineage ----

#[test]
fn lineage_follows_parents_up_a_3_deep_chain_works() {
	build_and_execute(|| {
		let base = model(ALICE, 1);
		MockDatanets::freeze(3, 1);
		let t0 = vec![(v(1, 1), Perbill::one())];
		let t1 = vec![(v(1, 2), Perbill::from_percent(30)), (v(2, 1), Perbill::from_percent(70))];
		let t2 = vec![(v(2, 1), Perbill::from_percent(10)), (v(3, 1), Perbill::from_percent(90))];
		let t3 = vec![(v(3, 1), Perbill::one())];
		let root = NewAdapter::on(base, 10).training(t0.clone()).id();
		let child = NewAdapter::on(base, 11).parent(root).author(CAROL).training(t1.clone()).id();
		let grandchild = NewAdapter::on(base, 12).parent(child).training(t2.clone()).id();
		let mut leaf =
			NewAdapter::on(base, 13).parent(grandchild).author(CAROL).training(t3.clone());
		leaf.rank = 16;
		let leaf = leaf.id();
		assert_ok!(Models::deprecate_adapter(RuntimeOrigin::signed(BOB), root));

		let lineage = Models::lineage(leaf).expect("registered");
		assert_eq!(lineage.adapter, leaf);
		assert_eq!(lineage.base_model, base);
		assert_eq!(lineage.base_model_owner, ALICE);
		assert_eq!(lineage.base_model_artifact, hash(1));
		assert_eq!(lineage.price, price(3, 5));
		assert_eq!(lineage.status, AdapterStatus::Active);
		assert_eq!(
			lineage.ancestors,
			vec![
				LineageNode {
					adapter: leaf,
					author: CAROL,
					artifact_hash: hash(13),
					rank: 16,
					training: t3,
					status: AdapterStatus::Active,
				},
				LineageNode {
					adapter: grandchild,
					author: BOB,
					artifact_hash: hash(12),
					rank: 8,
					training: t2,
					status: AdapterStatus::Active,
				},
				LineageNode {
					adapter: child,
					author: CAROL,
					artifact_hash: hash(11),
					rank: 8,
					training: t1.clone(),
					status: AdapterStatus::Active,
				},
				LineageNode {
					adapter: root,
					author: BOB,
					artifact_hash: hash(10),
					rank: 8,
					training: t0.clone(),
					status: AdapterStatus::Deprecated,
				},
			]
		);

		// A middle node's lineage stops at the root too.
		let lineage = Models::lineage(child).expect("registered");
		assert_eq!(lineage.ancestors.iter().map(|n| n.adapter).collect::<Vec<_>>(), [child, root]);
		assert_eq!(lineage.ancestors[1].training, t0);
		// A root's lineage is itself.
		assert_eq!(Models::lineage(root).map(|l| l.ancestors.len()), Some(1));
		// An unknown adapter has none.
		assert_eq!(Models::lineage(99), None);
	});
}

// ---- hooks and invariants ----

#[test]
fn integrity_test_works() {
	new_test_ext().execute_with(|| {
		<Models as Hooks<u32>>::integrity_test();
	});
}

#[test]
fn do_try_state_broken_index_fails() {
	new_test_ext().execute_with(|| {
		let base = model(ALICE, 1);
		let adapter = NewAdapter::on(base, 2).id();
		assert_ok!(Models::do_try_state());
		ArtifactIndex::<Test>::remove(hash(2));
		assert!(Models::do_try_state().is_err());
		ArtifactIndex::<Test>::insert(hash(2), ArtifactOwner::Adapter(adapter));
		assert_ok!(Models::do_try_state());
		ArtifactIndex::<Test>::insert(hash(3), ArtifactOwner::Model(base));
		assert!(Models::do_try_state().is_err());
	});
}

#[test]
fn do_try_state_broken_lineage_fails() {
	new_test_ext().execute_with(|| {
		let base = model(ALICE, 1);
		let root = NewAdapter::on(base, 2).id();
		let child = NewAdapter::on(base, 3).parent(root).id();
		assert_ok!(Models::do_try_state());
		Adapters::<Test>::mutate(child, |a| {
			if let Some(a) = a {
				a.depth = 2;
			}
		});
		assert!(Models::do_try_state().is_err());
		Adapters::<Test>::mutate(child, |a| {
			if let Some(a) = a {
				a.depth = 1;
				a.training =
					BoundedVec::try_from(vec![(v(1, 1), Perbill::from_percent(99))]).expect("fits");
			}
		});
		assert!(Models::do_try_state().is_err());
	});
}

#[test]
fn do_try_state_broken_evaluation_fails() {
	new_test_ext().execute_with(|| {
		let base = model(ALICE, 1);
		let adapter = NewAdapter::on(base, 2).id();
		assert_ok!(Models::post_evaluation(RuntimeOrigin::signed(BOB), adapter, evaluation(9)));
		assert_ok!(Models::do_try_state());
		// An evaluation of an adapter that is not registered.
		Evaluations::<Test>::insert(adapter + 1, evaluation(10));
		assert!(Models::do_try_state().is_err());
		Evaluations::<Test>::remove(adapter + 1);
		assert_ok!(Models::do_try_state());
		// An evaluation that scored nothing.
		Evaluations::<Test>::insert(adapter, Evaluation { heldout_tokens: 0, ..evaluation(9) });
		assert!(Models::do_try_state().is_err());
		// An evaluation whose deposit is not held.
		let other = NewAdapter::on(base, 3).id();
		Evaluations::<Test>::insert(adapter, evaluation(9));
		Evaluations::<Test>::insert(other, evaluation(10));
		assert!(Models::do_try_state().is_err());
	});
}
