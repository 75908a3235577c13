//! Unit tests on the mock runtime.

use crate::{
	mock::{Datanets, *},
	*,
};
use lineage_primitives::merkle::{verify_version_proof, version_proof, version_root};
use polkadot_sdk::{
	binary_merkle_tree,
	frame_support::{
		assert_noop, assert_ok,
		dispatch::GetDispatchInfo,
		traits::{
			fungible::{Inspect, InspectHold, Mutate},
			Get, Hooks,
		},
	},
	sp_core::H256,
	sp_runtime::{traits::BlakeTwo256, DispatchError, TokenError},
};

type Error = crate::Error<Test>;
type Event = crate::Event<Test>;

const OWNER: u64 = 1;
const CURATOR: u64 = 2;
const ALICE: u64 = 3;
const BOB: u64 = 4;
const CAROL: u64 = 5;

/// The size of the records the helpers submit.
const SIZE: u32 = 1_000;

fn origin(who: u64) -> RuntimeOrigin {
	RuntimeOrigin::signed(who)
}

fn bounded<S: Get<u32>>(bytes: &[u8]) -> BoundedVec<u8, S> {
	BoundedVec::try_from(bytes.to_vec()).expect("test input fits")
}

/// A distinct content hash per `n` (standing for the sha-256 of a record's bytes).
fn hash(n: u64) -> H256 {
	H256::from_low_u64_be(n.saturating_add(1))
}

/// What `who` holds as datanet deposits.
fn held_datanet(who: u64) -> u64 {
	<Balances as InspectHold<u64>>::balance_on_hold(&HoldReason::DatanetDeposit.into(), &who)
}

/// What `who` holds as record deposits.
fn held_record(who: u64) -> u64 {
	<Balances as InspectHold<u64>>::balance_on_hold(&HoldReason::ContributionDeposit.into(), &who)
}

/// The deposit of a record of `size` bytes in the mock.
fn deposit(size: u32) -> u64 {
	RECORD_BASE + RECORD_PER_BYTE * u64::from(size)
}

fn create(owner: u64, policy: ContributionPolicy) -> DatanetId {
	let id = NextDatanetId::<Test>::get();
	assert_ok!(Datanets::create_datanet(
		origin(owner),
		bounded(b"maths"),
		bounded(b"ipfs://meta"),
		bounded(b"CC-BY-4.0"),
		policy,
	));
	id
}

/// A curated datanet owned by [`OWNER`] with [`CURATOR`] as curator.
fn curated() -> DatanetId {
	let id = create(OWNER, ContributionPolicy::Curated);
	assert_ok!(Datanets::add_curator(origin(OWNER), id, CURATOR));
	id
}

/// Submit record `n` of [`SIZE`] bytes with `tokens` tokens; returns its id.
fn contribute(who: u64, datanet: DatanetId, n: u64, tokens: u32) -> ContributionId {
	let id = info_of(datanet).map(|d| d.contribution_count).unwrap_or_default();
	assert_ok!(Datanets::contribute(origin(who), datanet, hash(n), SIZE, tokens, None));
	id
}

/// Submit record `n` and accept it (as [`CURATOR`], with `quality`).
fn accepted(who: u64, datanet: DatanetId, n: u64, tokens: u32, quality: u16) -> ContributionId {
	let id = contribute(who, datanet, n, tokens);
	assert_ok!(Datanets::accept_contribution(origin(CURATOR), datanet, id, Some(quality), None));
	id
}

fn info_of(id: DatanetId) -> Option<DatanetInfo<Test>> {
	crate::Datanets::<Test>::get(id)
}

fn status_of(datanet: DatanetId, id: ContributionId) -> Option<ContributionStatus> {
	Contributions::<Test>::get(datanet, id).map(|r| r.status)
}

/// The raw stored weight of `who` in `version` of `datanet` (frozen or not).
fn stored_weight(who: u64, datanet: DatanetId, version: VersionId) -> Option<u128> {
	ContributorWeights::<Test>::get((who, datanet, version))
}

/// What the attribution pallet sees.
fn frozen_weight(datanet: DatanetId, version: VersionId, who: u64) -> u128 {
	<Datanets as DatanetWeights<u64>>::contributor_weight(datanet, version, &who)
}

fn weight_through(datanet: DatanetId, version: VersionId) -> u128 {
	<Datanets as DatanetWeights<u64>>::weight_through(datanet, version)
}

fn contributor_versions(who: u64) -> Vec<(DatanetId, VersionId, u128)> {
	<Datanets as DatanetWeights<u64>>::contributor_versions(&who).collect()
}

fn is_frozen(datanet: DatanetId, version: VersionId) -> bool {
	<Datanets as DatanetInspect>::is_frozen_version(&DatanetVersionRef { datanet, version })
}

fn try_state() {
	assert_ok!(Datanets::do_try_state());
}

// ----- configuration and helpers -----

#[test]
fn integrity_test_works() {
	new_test_ext().execute_with(|| {
		<Datanets as Hooks<u64>>::integrity_test();
	});
}

#[test]
fn contribution_weight_works() {
	assert_eq!(Datanets::contribution_weight(1_000, 100), 1_000);
	assert_eq!(Datanets::contribution_weight(1_000, 250), 2_500);
	assert_eq!(Datanets::contribution_weight(99, 10), 9);
	assert_eq!(Datanets::contribution_weight(1, 10), 0);
	assert_eq!(
		Datanets::contribution_weight(u32::MAX, u16::MAX),
		u128::from(u32::MAX) * u128::from(u16::MAX) / 100
	);
}

#[test]
fn contribution_deposit_is_base_plus_per_byte() {
	assert_eq!(Datanets::contribution_deposit(1), RECORD_BASE + RECORD_PER_BYTE);
	assert_eq!(Datanets::contribution_deposit(SIZE), deposit(SIZE));
	assert_eq!(Datanets::contribution_deposit(MAX_RECORD), RECORD_BASE + u64::from(MAX_RECORD));
	// Saturating, never overflowing.
	assert_eq!(Datanets::contribution_deposit(u32::MAX), RECORD_BASE + u64::from(u32::MAX));
}

// ----- create_datanet -----

#[test]
fn create_datanet_works() {
	new_test_ext().execute_with(|| {
		let id = create(OWNER, ContributionPolicy::Open);
		assert_eq!(id, 0);
		assert_eq!(NextDatanetId::<Test>::get(), 1);
		let info = info_of(id).expect("created");
		assert_eq!(info.owner, OWNER);
		assert_eq!(info.name.to_vec(), b"maths".to_vec());
		assert_eq!(info.metadata_uri.to_vec(), b"ipfs://meta".to_vec());
		assert_eq!(info.license.to_vec(), b"CC-BY-4.0".to_vec());
		assert_eq!(info.policy, ContributionPolicy::Open);
		assert_eq!(info.status, DatanetStatus::Active);
		assert_eq!(info.deposit, DEPOSIT);
		assert_eq!(
			(
				info.contribution_count,
				info.live_count,
				info.accepted_count,
				info.frozen_count,
				info.frozen_weight,
				info.version_count
			),
			(0, 0, 0, 0, 0, 0)
		);
		assert_eq!(info.created_at, 1);
		assert_eq!(held_datanet(OWNER), DEPOSIT);
		assert_eq!(Balances::balance(&OWNER), INITIAL - DEPOSIT);
		System::assert_has_event(
			Event::DatanetCreated {
				datanet: 0,
				owner: OWNER,
				policy: ContributionPolicy::Open,
				deposit: DEPOSIT,
			}
			.into(),
		);
		// Ids count up and deposits add up.
		assert_eq!(create(OWNER, ContributionPolicy::Curated), 1);
		assert_eq!(held_datanet(OWNER), 2 * DEPOSIT);
		try_state();
	});
}

#[test]
fn create_datanet_fails_without_funds() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			Datanets::create_datanet(
				origin(POOR),
				bounded(b"x"),
				bounded(b""),
				bounded(b"MIT"),
				ContributionPolicy::Open
			),
			Error::InsufficientBalance
		);
		try_state();
	});
}

#[test]
fn create_datanet_fails_with_empty_name() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			Datanets::create_datanet(
				origin(OWNER),
				bounded(b""),
				bounded(b""),
				bounded(b"MIT"),
				ContributionPolicy::Open
			),
			Error::EmptyName
		);
	});
}

#[test]
fn create_datanet_fails_on_id_overflow() {
	new_test_ext().execute_with(|| {
		NextDatanetId::<Test>::put(DatanetId::MAX);
		assert_noop!(
			Datanets::create_datanet(
				origin(OWNER),
				bounded(b"x"),
				bounded(b""),
				bounded(b"MIT"),
				ContributionPolicy::Open
			),
			Error::Overflow
		);
	});
}

#[test]
fn create_datanet_fails_unsigned() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			Datanets::create_datanet(
				RuntimeOrigin::none(),
				bounded(b"x"),
				bounded(b""),
				bounded(b"MIT"),
				ContributionPolicy::Open
			),
			DispatchError::BadOrigin
		);
	});
}

// ----- add_curator / remove_curator -----

#[test]
fn add_curator_works() {
	new_test_ext().execute_with(|| {
		let id = create(OWNER, ContributionPolicy::Curated);
		assert_ok!(Datanets::add_curator(origin(OWNER), id, CURATOR));
		assert!(Curators::<Test>::contains_key(id, CURATOR));
		assert_eq!(info_of(id).map(|d| d.curator_count), Some(1));
		System::assert_has_event(Event::CuratorAdded { datanet: id, curator: CURATOR }.into());
		try_state();
	});
}

#[test]
fn add_curator_fails() {
	new_test_ext().execute_with(|| {
		let id = curated();
		assert_noop!(Datanets::add_curator(origin(OWNER), 7, ALICE), Error::UnknownDatanet);
		assert_noop!(Datanets::add_curator(origin(CURATOR), id, ALICE), Error::NotOwner);
		assert_noop!(Datanets::add_curator(origin(OWNER), id, CURATOR), Error::AlreadyCurator);
		for who in 10..(10 + u64::from(MAX_CURATORS) - 1) {
			assert_ok!(Datanets::add_curator(origin(OWNER), id, who));
		}
		assert_noop!(Datanets::add_curator(origin(OWNER), id, ALICE), Error::TooManyCurators);
		try_state();
	});
}

#[test]
fn add_curator_fails_when_closed() {
	new_test_ext().execute_with(|| {
		let id = create(OWNER, ContributionPolicy::Curated);
		assert_ok!(Datanets::close_datanet(origin(OWNER), id));
		assert_noop!(Datanets::add_curator(origin(OWNER), id, CURATOR), Error::DatanetClosed);
	});
}

#[test]
fn remove_curator_works() {
	new_test_ext().execute_with(|| {
		let id = curated();
		assert_ok!(Datanets::remove_curator(origin(OWNER), id, CURATOR));
		assert!(!Curators::<Test>::contains_key(id, CURATOR));
		assert_eq!(info_of(id).map(|d| d.curator_count), Some(0));
		System::assert_has_event(Event::CuratorRemoved { datanet: id, curator: CURATOR }.into());
		// A removed curator may no longer curate.
		let c = contribute(ALICE, id, 1, 10);
		assert_noop!(
			Datanets::accept_contribution(origin(CURATOR), id, c, None, None),
			Error::NotCurator
		);
		assert_noop!(Datanets::reject_contribution(origin(CURATOR), id, c, 0), Error::NotCurator);
		try_state();
	});
}

#[test]
fn remove_curator_works_when_closed() {
	new_test_ext().execute_with(|| {
		let id = curated();
		assert_ok!(Datanets::close_datanet(origin(OWNER), id));
		assert_ok!(Datanets::remove_curator(origin(OWNER), id, CURATOR));
		try_state();
	});
}

#[test]
fn remove_curator_fails() {
	new_test_ext().execute_with(|| {
		let id = curated();
		assert_noop!(Datanets::remove_curator(origin(OWNER), 7, CURATOR), Error::UnknownDatanet);
		assert_noop!(Datanets::remove_curator(origin(CURATOR), id, CURATOR), Error::NotOwner);
		assert_noop!(Datanets::remove_curator(origin(OWNER), id, ALICE), Error::UnknownCurator);
		try_state();
	});
}

// ----- transfer_ownership -----

#[test]
fn transfer_ownership_works() {
	new_test_ext().execute_with(|| {
		let id = curated();
		assert_ok!(Datanets::transfer_ownership(origin(OWNER), id, ALICE));
		let info = info_of(id).expect("exists");
		assert_eq!(info.owner, ALICE);
		assert_eq!(info.deposit, DEPOSIT);
		assert_eq!(held_datanet(OWNER), 0);
		assert_eq!(Balances::balance(&OWNER), INITIAL);
		assert_eq!(held_datanet(ALICE), DEPOSIT);
		assert_eq!(Balances::balance(&ALICE), INITIAL - DEPOSIT);
		System::assert_has_event(
			Event::OwnershipTransferred {
				datanet: id,
				old_owner: OWNER,
				new_owner: ALICE,
				deposit: DEPOSIT,
			}
			.into(),
		);
		// The new owner manages; the old one no longer does; curators stay.
		assert!(Curators::<Test>::contains_key(id, CURATOR));
		assert_noop!(Datanets::add_curator(origin(OWNER), id, BOB), Error::NotOwner);
		assert_ok!(Datanets::add_curator(origin(ALICE), id, BOB));
		try_state();
	});
}

#[test]
fn transfer_ownership_fails() {
	new_test_ext().execute_with(|| {
		let id = create(OWNER, ContributionPolicy::Open);
		assert_noop!(Datanets::transfer_ownership(origin(OWNER), 7, ALICE), Error::UnknownDatanet);
		assert_noop!(Datanets::transfer_ownership(origin(ALICE), id, ALICE), Error::NotOwner);
		assert_noop!(Datanets::transfer_ownership(origin(OWNER), id, OWNER), Error::AlreadyOwner);
		// The new owner cannot afford the deposit: nothing moves.
		assert_noop!(
			Datanets::transfer_ownership(origin(OWNER), id, POOR),
			Error::InsufficientBalance
		);
		assert_eq!(held_datanet(OWNER), DEPOSIT);
		assert_eq!(held_datanet(POOR), 0);
		assert_ok!(Datanets::close_datanet(origin(OWNER), id));
		assert_noop!(Datanets::transfer_ownership(origin(OWNER), id, ALICE), Error::DatanetClosed);
		try_state();
	});
}

// ----- close_datanet -----

#[test]
fn close_datanet_works_and_keeps_the_deposit_held() {
	new_test_ext().execute_with(|| {
		let id = create(OWNER, ContributionPolicy::Open);
		contribute(ALICE, id, 1, 50);
		assert_ok!(Datanets::freeze_version(origin(OWNER), id));
		assert_ok!(Datanets::close_datanet(origin(OWNER), id));
		let info = info_of(id).expect("exists");
		assert_eq!(info.status, DatanetStatus::Closed);
		// The datanet and its versions stay stored, so its deposit stays held.
		assert_eq!(info.deposit, DEPOSIT);
		assert_eq!(held_datanet(OWNER), DEPOSIT);
		assert_eq!(Balances::balance(&OWNER), INITIAL - DEPOSIT);
		System::assert_has_event(Event::DatanetClosed { datanet: id }.into());
		// Versions stay readable and citeable; frozen weights stay.
		assert!(Datanets::version(id, 1).is_some());
		assert!(is_frozen(id, 1));
		assert_eq!(frozen_weight(id, 1, ALICE), 50);
		assert_eq!(weight_through(id, 1), 50);
		assert_eq!(Datanets::version_records(id, 1), vec![hash(1)]);
		// The frozen record and its deposit stay too.
		assert_eq!(held_record(ALICE), deposit(SIZE));
		try_state();
	});
}

#[test]
fn close_datanet_fails() {
	new_test_ext().execute_with(|| {
		let id = curated();
		let c = contribute(ALICE, id, 1, 10);
		assert_noop!(Datanets::close_datanet(origin(OWNER), 7), Error::UnknownDatanet);
		assert_noop!(Datanets::close_datanet(origin(CURATOR), id), Error::NotOwner);
		assert_ok!(Datanets::close_datanet(origin(OWNER), id));
		assert_noop!(Datanets::close_datanet(origin(OWNER), id), Error::DatanetClosed);
		// Nothing more happens in a closed datanet but withdrawals.
		assert_noop!(
			Datanets::contribute(origin(ALICE), id, hash(2), 1, 1, None),
			Error::DatanetClosed
		);
		assert_noop!(
			Datanets::accept_contribution(origin(CURATOR), id, c, None, None),
			Error::DatanetClosed
		);
		assert_noop!(
			Datanets::reject_contribution(origin(CURATOR), id, c, 1),
			Error::DatanetClosed
		);
		assert_noop!(Datanets::freeze_version(origin(OWNER), id), Error::DatanetClosed);
		try_state();
	});
}

// ----- contribute -----

#[test]
fn contribute_works_in_open_datanet() {
	new_test_ext().execute_with(|| {
		let id = create(OWNER, ContributionPolicy::Open);
		let uri = Some(bounded(b"ipfs://record"));
		assert_ok!(Datanets::contribute(origin(ALICE), id, hash(1), 800, 500, uri.clone()));
		let record = Contributions::<Test>::get(id, 0).expect("stored");
		assert_eq!(record.contributor, ALICE);
		assert_eq!(record.content_hash, hash(1));
		assert_eq!(record.size_bytes, 800);
		assert_eq!(record.tokens, 500);
		assert_eq!(record.uri, uri);
		assert_eq!(record.deposit, deposit(800));
		assert_eq!(
			record.status,
			ContributionStatus::Accepted {
				quality: 100,
				tokens: 500,
				weight: 500,
				index: 0,
				version: 1
			}
		);
		assert_eq!(record.submitted_at, 1);
		assert_eq!(held_record(ALICE), deposit(800));
		assert_eq!(Balances::balance(&ALICE), INITIAL - deposit(800));
		assert_eq!(ContentIndex::<Test>::get(id, hash(1)), Some(0));
		assert_eq!(AcceptedOrder::<Test>::get(id, 0), Some(0));
		let open = OpenVersions::<Test>::get(id);
		assert_eq!((open.records, open.weight, open.frontier.leaves), (1, 500, 1));
		assert_eq!(open.frontier.root(), version_root(&[hash(1)]));
		assert_eq!(stored_weight(ALICE, id, 1), Some(500));
		let info = info_of(id).expect("exists");
		assert_eq!((info.contribution_count, info.live_count, info.accepted_count), (1, 1, 1));
		System::assert_has_event(
			Event::ContributionSubmitted {
				datanet: id,
				contribution: 0,
				contributor: ALICE,
				content_hash: hash(1),
				size_bytes: 800,
				tokens: 500,
				deposit: deposit(800),
			}
			.into(),
		);
		System::assert_has_event(
			Event::ContributionAccepted {
				datanet: id,
				contribution: 0,
				contributor: ALICE,
				quality: 100,
				tokens: 500,
				weight: 500,
				version: 1,
			}
			.into(),
		);
		// Ids count up; weights add up per contributor in the open version; deposits add up.
		assert_eq!(contribute(ALICE, id, 2, 100), 1);
		assert_eq!(contribute(BOB, id, 3, 10), 2);
		assert_eq!(stored_weight(ALICE, id, 1), Some(600));
		assert_eq!(stored_weight(BOB, id, 1), Some(10));
		assert_eq!(OpenVersions::<Test>::get(id).weight, 610);
		assert_eq!(held_record(ALICE), deposit(800) + deposit(SIZE));
		try_state();
	});
}

#[test]
fn contribute_works_in_curated_datanet() {
	new_test_ext().execute_with(|| {
		let id = curated();
		assert_eq!(contribute(ALICE, id, 1, 500), 0);
		let record = Contributions::<Test>::get(id, 0).expect("stored");
		assert_eq!(record.status, ContributionStatus::Pending);
		assert_eq!(record.deposit, deposit(SIZE));
		assert_eq!(held_record(ALICE), deposit(SIZE));
		assert_eq!(OpenVersions::<Test>::get(id), OpenVersion::default());
		assert_eq!(stored_weight(ALICE, id, 1), None);
		let info = info_of(id).expect("exists");
		assert_eq!((info.contribution_count, info.live_count, info.accepted_count), (1, 1, 0));
		System::assert_has_event(
			Event::ContributionSubmitted {
				datanet: id,
				contribution: 0,
				contributor: ALICE,
				content_hash: hash(1),
				size_bytes: SIZE,
				tokens: 500,
				deposit: deposit(SIZE),
			}
			.into(),
		);
		try_state();
	});
}

#[test]
fn contribute_fails() {
	new_test_ext().execute_with(|| {
		let id = curated();
		assert_noop!(
			Datanets::contribute(origin(ALICE), 7, hash(1), 1, 1, None),
			Error::UnknownDatanet
		);
		assert_noop!(Datanets::contribute(origin(ALICE), id, hash(1), 0, 1, None), Error::ZeroSize);
		assert_noop!(
			Datanets::contribute(origin(ALICE), id, hash(1), 1, 0, None),
			Error::ZeroTokens
		);
		assert_noop!(
			Datanets::contribute(RuntimeOrigin::none(), id, hash(1), 1, 1, None),
			DispatchError::BadOrigin
		);
		contribute(ALICE, id, 1, 1);
		// Duplicate content, from anyone.
		assert_noop!(
			Datanets::contribute(origin(BOB), id, hash(1), 1, 1, None),
			Error::DuplicateContent
		);
		// A rejected record is removed: its content hash is free again.
		assert_ok!(Datanets::reject_contribution(origin(CURATOR), id, 0, 3));
		assert_ok!(Datanets::contribute(origin(BOB), id, hash(1), 1, 1, None));
		// The same content may go to another datanet.
		let other = create(BOB, ContributionPolicy::Curated);
		contribute(BOB, other, 1, 1);
		try_state();
	});
}

#[test]
fn contribute_fails_with_record_too_large() {
	new_test_ext().execute_with(|| {
		let id = create(OWNER, ContributionPolicy::Open);
		assert_noop!(
			Datanets::contribute(origin(ALICE), id, hash(1), MAX_RECORD + 1, 1, None),
			Error::RecordTooLarge
		);
		assert_noop!(
			Datanets::contribute(origin(ALICE), id, hash(1), u32::MAX, 1, None),
			Error::RecordTooLarge
		);
		assert_ok!(Datanets::contribute(origin(ALICE), id, hash(1), MAX_RECORD, 1, None));
		try_state();
	});
}

#[test]
fn contribute_fails_with_too_many_tokens() {
	new_test_ext().execute_with(|| {
		let id = create(OWNER, ContributionPolicy::Open);
		assert_noop!(
			Datanets::contribute(origin(ALICE), id, hash(1), 100, 101, None),
			Error::TooManyTokens
		);
		// As many tokens as bytes is the most.
		assert_ok!(Datanets::contribute(origin(ALICE), id, hash(1), 100, 100, None));
		try_state();
	});
}

#[test]
fn contribute_fails_without_the_record_deposit() {
	new_test_ext().execute_with(|| {
		let id = create(OWNER, ContributionPolicy::Open);
		// POOR cannot afford even the base deposit.
		assert_noop!(
			Datanets::contribute(origin(POOR), id, hash(1), 1, 1, None),
			Error::InsufficientBalance
		);
		// An account that can afford a small record but not a large one: the per-byte part
		// counts (and the existential deposit stays).
		<Balances as Mutate<u64>>::set_balance(&CAROL, ED + deposit(100));
		assert_noop!(
			Datanets::contribute(origin(CAROL), id, hash(1), 101, 1, None),
			Error::InsufficientBalance
		);
		assert_ok!(Datanets::contribute(origin(CAROL), id, hash(1), 100, 1, None));
		assert_eq!(held_record(CAROL), deposit(100));
		assert_eq!(Balances::balance(&CAROL), ED);
		try_state();
	});
}

/// Finding 1: a record's weight was whatever the contributor declared. Now a token is at least
/// a byte and a record at most `MaxRecordBytes`.
#[test]
fn weight_inflation_is_bounded_by_the_record_size_and_paid_for() {
	new_test_ext().execute_with(|| {
		let open = create(OWNER, ContributionPolicy::Open);
		// The attack that took almost all fees: one byte, u32::MAX tokens.
		assert_noop!(
			Datanets::contribute(origin(ALICE), open, hash(1), 1, u32::MAX, None),
			Error::TooManyTokens
		);
		assert_noop!(
			Datanets::contribute(origin(ALICE), open, hash(1), u32::MAX, u32::MAX, None),
			Error::RecordTooLarge
		);
		// The most an open datanet gives one record: MaxRecordBytes at quality 100.
		assert_ok!(Datanets::contribute(
			origin(ALICE),
			open,
			hash(1),
			MAX_RECORD,
			MAX_RECORD,
			None
		));
		assert_eq!(stored_weight(ALICE, open, 1), Some(u128::from(MAX_RECORD)));
		assert_eq!(held_record(ALICE), deposit(MAX_RECORD));

		// The most any record weighs: MaxRecordBytes × MaxQuality / 100, by a curator.
		let id = curated();
		let c = contribute(BOB, id, 2, 1);
		let max_quality: u16 = <Test as Config>::MaxQuality::get();
		assert_noop!(
			Datanets::accept_contribution(
				origin(CURATOR),
				id,
				c,
				Some(max_quality),
				Some(MAX_RECORD)
			),
			Error::TooManyTokens
		);
		assert_ok!(Datanets::accept_contribution(
			origin(CURATOR),
			id,
			c,
			Some(max_quality),
			Some(SIZE)
		));
		let largest = Datanets::contribution_weight(MAX_RECORD, max_quality);
		assert_eq!(largest, u128::from(MAX_RECORD) * u128::from(max_quality) / 100);
		assert!(stored_weight(BOB, id, 1).expect("credited") <= largest);
		// And it costs its deposit, per byte.
		assert_eq!(held_record(BOB), deposit(SIZE));
		try_state();
	});
}

#[test]
fn contribute_fails_when_datanet_is_full() {
	new_test_ext().execute_with(|| {
		let id = curated();
		for n in 0..u64::from(MAX_PER_DATANET) {
			assert_ok!(Datanets::contribute(origin(ALICE), id, hash(n), 1, 1, None));
		}
		assert_noop!(
			Datanets::contribute(origin(BOB), id, hash(10_000), 1, 1, None),
			Error::TooManyContributions
		);
		// The bound is on the records stored, each paid for by a deposit: withdrawing one (or a
		// curator rejecting one) makes room, so spam cannot lock the datanet for free.
		assert_ok!(Datanets::withdraw_contribution(origin(ALICE), id, 0));
		assert_ok!(Datanets::contribute(origin(BOB), id, hash(10_000), 1, 1, None));
		assert_ok!(Datanets::reject_contribution(origin(CURATOR), id, 1, 0));
		assert_ok!(Datanets::contribute(origin(BOB), id, hash(10_001), 1, 1, None));
		let info = info_of(id).expect("exists");
		assert_eq!(info.live_count, MAX_PER_DATANET);
		assert_eq!(info.contribution_count, MAX_PER_DATANET + 2);
		try_state();
	});
}

#[test]
fn contribute_and_accept_fail_after_the_last_version() {
	new_test_ext().execute_with(|| {
		let open = create(OWNER, ContributionPolicy::Open);
		let id = curated();
		let pending = contribute(ALICE, id, 100, 1);
		for n in 0..u64::from(MAX_VERSIONS) {
			contribute(ALICE, open, n, 1);
			assert_ok!(Datanets::freeze_version(origin(OWNER), open));
			accepted(ALICE, id, n, 1, 100);
			assert_ok!(Datanets::freeze_version(origin(OWNER), id));
		}
		// The open version could never be frozen: no record may lock a deposit in it.
		assert_noop!(
			Datanets::contribute(origin(ALICE), open, hash(1_000), 1, 1, None),
			Error::TooManyVersions
		);
		assert_noop!(
			Datanets::accept_contribution(origin(CURATOR), id, pending, None, None),
			Error::TooManyVersions
		);
		assert_noop!(Datanets::freeze_version(origin(OWNER), open), Error::TooManyVersions);
		// The pending record can still be withdrawn.
		assert_ok!(Datanets::withdraw_contribution(origin(ALICE), id, pending));
		try_state();
	});
}

/// Finding 3 (griefing): an open datanet's accepted-but-unfrozen hashes were a bounded list,
/// which anyone could fill so that every contribution failed until the owner froze. The open
/// version is now a Merkle frontier: no list, no bound but the datanet's own.
#[test]
fn open_datanet_takes_more_records_than_a_version_list_held_and_freezes_them_at_once() {
	new_test_ext().execute_with(|| {
		let id = create(OWNER, ContributionPolicy::Open);
		let contributors = [ALICE, BOB, CAROL];
		let count = 1_001u64;
		let mut hashes = Vec::new();
		for n in 0..count {
			let who = contributors[(n % 3) as usize];
			assert_ok!(Datanets::contribute(origin(who), id, hash(n), 1, 1, None));
			hashes.push(hash(n));
		}
		let open = OpenVersions::<Test>::get(id);
		assert_eq!((open.records, open.frontier.leaves), (1_001, 1_001));
		// A frontier of 1,001 leaves has 10 levels.
		assert_eq!(open.frontier.nodes.len(), 10);
		try_state();

		// One freeze, of constant weight, whatever the number of records.
		let call = crate::Call::<Test>::freeze_version { datanet: id };
		assert_eq!(call.get_dispatch_info().call_weight, <() as WeightInfo>::freeze_version());
		assert_ok!(Datanets::freeze_version(origin(OWNER), id));
		let v1 = Datanets::version(id, 1).expect("frozen");
		assert_eq!((v1.records, v1.first_record, v1.weight), (1_001, 0, 1_001));
		assert_eq!(v1.merkle_root, version_root(&hashes));
		assert_eq!(Datanets::version_records(id, 1), hashes);
		assert_eq!(OpenVersions::<Test>::get(id), OpenVersion::default());
		assert_eq!(held_record(ALICE), 334 * deposit(1));
		try_state();
	});
}

// ----- accept_contribution -----

#[test]
fn accept_contribution_works() {
	new_test_ext().execute_with(|| {
		let id = curated();
		let a = contribute(ALICE, id, 1, 1_000);
		let b = contribute(ALICE, id, 2, 1_000);
		let c = contribute(BOB, id, 3, 40);
		// By a curator, with a quality.
		assert_ok!(Datanets::accept_contribution(origin(CURATOR), id, a, Some(250), None));
		assert_eq!(
			status_of(id, a),
			Some(ContributionStatus::Accepted {
				quality: 250,
				tokens: 1_000,
				weight: 2_500,
				index: 0,
				version: 1
			})
		);
		System::assert_has_event(
			Event::ContributionAccepted {
				datanet: id,
				contribution: a,
				contributor: ALICE,
				quality: 250,
				tokens: 1_000,
				weight: 2_500,
				version: 1,
			}
			.into(),
		);
		// By the owner, with the default quality.
		assert_ok!(Datanets::accept_contribution(origin(OWNER), id, b, None, None));
		// At the lowest quality.
		assert_ok!(Datanets::accept_contribution(origin(CURATOR), id, c, Some(10), None));
		assert_eq!(stored_weight(ALICE, id, 1), Some(3_500));
		assert_eq!(stored_weight(BOB, id, 1), Some(4));
		let open = OpenVersions::<Test>::get(id);
		assert_eq!((open.records, open.weight), (3, 3_504));
		assert_eq!(open.frontier.root(), version_root(&[hash(1), hash(2), hash(3)]));
		assert_eq!(
			(0..3).map(|i| AcceptedOrder::<Test>::get(id, i)).collect::<Vec<_>>(),
			vec![Some(a), Some(b), Some(c)]
		);
		assert_eq!(info_of(id).map(|d| d.accepted_count), Some(3));
		// Not frozen: the attribution pallet sees none of it yet.
		assert_eq!(frozen_weight(id, 1, ALICE), 0);
		try_state();
	});
}

#[test]
fn accept_contribution_with_the_curators_token_count() {
	new_test_ext().execute_with(|| {
		let id = curated();
		// Declared 900 tokens; the record store's tokenizer measured 400.
		let a = contribute(ALICE, id, 1, 900);
		assert_ok!(Datanets::accept_contribution(origin(CURATOR), id, a, Some(200), Some(400)));
		assert_eq!(
			status_of(id, a),
			Some(ContributionStatus::Accepted {
				quality: 200,
				tokens: 400,
				weight: 800,
				index: 0,
				version: 1
			})
		);
		// The declared count is kept as declared.
		assert_eq!(Contributions::<Test>::get(id, a).map(|r| r.tokens), Some(900));
		System::assert_has_event(
			Event::ContributionAccepted {
				datanet: id,
				contribution: a,
				contributor: ALICE,
				quality: 200,
				tokens: 400,
				weight: 800,
				version: 1,
			}
			.into(),
		);
		// An under-declared record may be raised, up to its size.
		let b = contribute(BOB, id, 2, 1);
		assert_ok!(Datanets::accept_contribution(origin(CURATOR), id, b, None, Some(SIZE)));
		assert_eq!(stored_weight(BOB, id, 1), Some(u128::from(SIZE)));
		assert_eq!(OpenVersions::<Test>::get(id).weight, 800 + u128::from(SIZE));
		try_state();
	});
}

#[test]
fn accept_contribution_fails() {
	new_test_ext().execute_with(|| {
		let id = curated();
		let c = contribute(ALICE, id, 1, 10);
		assert_noop!(
			Datanets::accept_contribution(origin(CURATOR), 7, c, None, None),
			Error::UnknownDatanet
		);
		assert_noop!(
			Datanets::accept_contribution(origin(ALICE), id, c, None, None),
			Error::NotCurator
		);
		assert_noop!(
			Datanets::accept_contribution(origin(CURATOR), id, 99, None, None),
			Error::UnknownContribution
		);
		assert_noop!(
			Datanets::accept_contribution(origin(CURATOR), id, c, Some(9), None),
			Error::QualityOutOfBounds
		);
		assert_noop!(
			Datanets::accept_contribution(origin(CURATOR), id, c, Some(301), None),
			Error::QualityOutOfBounds
		);
		assert_ok!(Datanets::accept_contribution(origin(CURATOR), id, c, Some(300), None));
		assert_noop!(
			Datanets::accept_contribution(origin(CURATOR), id, c, None, None),
			Error::NotPending
		);
		// A rejected record is gone.
		let r = contribute(ALICE, id, 2, 10);
		assert_ok!(Datanets::reject_contribution(origin(CURATOR), id, r, 0));
		assert_noop!(
			Datanets::accept_contribution(origin(CURATOR), id, r, None, None),
			Error::UnknownContribution
		);
		// Open-datanet records are accepted already.
		let open = create(OWNER, ContributionPolicy::Open);
		let o = contribute(ALICE, open, 3, 10);
		assert_noop!(
			Datanets::accept_contribution(origin(OWNER), open, o, None, None),
			Error::NotPending
		);
		try_state();
	});
}

#[test]
fn accept_contribution_fails_with_a_bad_token_count() {
	new_test_ext().execute_with(|| {
		let id = curated();
		let c = contribute(ALICE, id, 1, 10);
		assert_noop!(
			Datanets::accept_contribution(origin(CURATOR), id, c, None, Some(0)),
			Error::ZeroTokens
		);
		assert_noop!(
			Datanets::accept_contribution(origin(CURATOR), id, c, None, Some(SIZE + 1)),
			Error::TooManyTokens
		);
		assert_noop!(
			Datanets::accept_contribution(origin(CURATOR), id, c, None, Some(u32::MAX)),
			Error::TooManyTokens
		);
		assert_eq!(status_of(id, c), Some(ContributionStatus::Pending));
		try_state();
	});
}

#[test]
fn accept_contribution_fails_on_weight_overflow() {
	new_test_ext().execute_with(|| {
		let id = curated();
		let c = contribute(ALICE, id, 1, 1_000);
		crate::Datanets::<Test>::mutate(id, |d| {
			if let Some(d) = d {
				d.frozen_weight = u128::MAX;
			}
		});
		assert_noop!(
			Datanets::accept_contribution(origin(CURATOR), id, c, None, None),
			Error::Overflow
		);
	});
}

// ----- reject_contribution -----

#[test]
fn reject_contribution_slashes_the_deposit_to_the_treasury() {
	new_test_ext().execute_with(|| {
		let id = curated();
		let a = contribute(ALICE, id, 1, 10);
		let b = contribute(ALICE, id, 2, 10);
		assert_eq!(held_record(ALICE), 2 * deposit(SIZE));
		assert_ok!(Datanets::reject_contribution(origin(CURATOR), id, a, 4));
		// Removed, with its content index.
		assert_eq!(Contributions::<Test>::get(id, a), None);
		assert_eq!(ContentIndex::<Test>::get(id, hash(1)), None);
		// The deposit went to the treasury.
		assert_eq!(held_record(ALICE), deposit(SIZE));
		assert_eq!(Balances::balance(&ALICE), INITIAL - 2 * deposit(SIZE));
		assert_eq!(Balances::total_balance(&ALICE), INITIAL - deposit(SIZE));
		assert_eq!(Balances::balance(&TREASURY), ED + deposit(SIZE));
		System::assert_has_event(
			Event::ContributionRejected {
				datanet: id,
				contribution: a,
				contributor: ALICE,
				reason: 4,
				slashed: deposit(SIZE),
			}
			.into(),
		);
		// By the owner too.
		assert_ok!(Datanets::reject_contribution(origin(OWNER), id, b, 0));
		assert_eq!(held_record(ALICE), 0);
		assert_eq!(Balances::balance(&TREASURY), ED + 2 * deposit(SIZE));
		let info = info_of(id).expect("exists");
		assert_eq!((info.contribution_count, info.live_count, info.accepted_count), (2, 0, 0));
		assert_eq!(OpenVersions::<Test>::get(id), OpenVersion::default());
		try_state();
	});
}

#[test]
fn reject_contribution_fails() {
	new_test_ext().execute_with(|| {
		let id = curated();
		let c = contribute(ALICE, id, 1, 10);
		assert_noop!(
			Datanets::reject_contribution(origin(CURATOR), 7, c, 0),
			Error::UnknownDatanet
		);
		assert_noop!(Datanets::reject_contribution(origin(BOB), id, c, 0), Error::NotCurator);
		assert_noop!(
			Datanets::reject_contribution(origin(CURATOR), id, 99, 0),
			Error::UnknownContribution
		);
		assert_ok!(Datanets::accept_contribution(origin(CURATOR), id, c, None, None));
		assert_noop!(Datanets::reject_contribution(origin(CURATOR), id, c, 0), Error::NotPending);
		try_state();
	});
}

// ----- freeze_version -----

#[test]
fn freeze_version_works() {
	new_test_ext().execute_with(|| {
		let id = curated();
		let a = contribute(ALICE, id, 1, 100);
		let b = contribute(BOB, id, 2, 200);
		let c = contribute(ALICE, id, 3, 300);
		// Acceptance order, not submission order, is the leaf order.
		assert_ok!(Datanets::accept_contribution(origin(CURATOR), id, c, None, None));
		assert_ok!(Datanets::accept_contribution(origin(CURATOR), id, a, Some(200), None));
		assert_ok!(Datanets::reject_contribution(origin(CURATOR), id, b, 1));
		System::set_block_number(5);
		assert_ok!(Datanets::freeze_version(origin(CURATOR), id));
		let root = binary_merkle_tree::merkle_root::<BlakeTwo256, _>(vec![hash(3), hash(1)]);
		let v1 = Datanets::version(id, 1).expect("frozen");
		assert_eq!(
			v1,
			VersionInfo {
				merkle_root: root,
				records: 2,
				first_record: 0,
				weight: 500,
				total_weight: 500,
				frozen_at: 5,
			}
		);
		System::assert_has_event(
			Event::VersionFrozen {
				datanet: id,
				version: 1,
				merkle_root: root,
				records: 2,
				weight: 500,
				total_weight: 500,
			}
			.into(),
		);
		assert_eq!(Datanets::version_records(id, 1), vec![hash(3), hash(1)]);
		assert_eq!(OpenVersions::<Test>::get(id), OpenVersion::default());
		let info = info_of(id).expect("exists");
		assert_eq!((info.version_count, info.frozen_count, info.frozen_weight), (1, 2, 500));

		// The second version holds only what came after the first; totals are cumulative.
		let d = contribute(BOB, id, 4, 50);
		assert_ok!(Datanets::accept_contribution(origin(OWNER), id, d, None, None));
		assert_eq!(
			status_of(id, d)
				.map(|s| matches!(s, ContributionStatus::Accepted { index: 2, version: 2, .. })),
			Some(true)
		);
		assert_ok!(Datanets::freeze_version(origin(OWNER), id));
		let v2 = Datanets::version(id, 2).expect("frozen");
		assert_eq!(v2.merkle_root, version_root(&[hash(4)]));
		assert_eq!((v2.records, v2.first_record, v2.weight, v2.total_weight), (1, 2, 50, 550));
		assert_eq!(Datanets::version_records(id, 2), vec![hash(4)]);
		assert_eq!(Datanets::version(id, 1), Some(v1));
		assert_eq!(Datanets::version(id, 3), None);
		assert_eq!(Datanets::version_records(id, 3), Vec::<H256>::new());
		assert!(is_frozen(id, 2));
		assert!(!is_frozen(id, 3));
		assert!(!is_frozen(id, 0));
		try_state();
	});
}

#[test]
fn freeze_version_root_matches_merkle_root_by_hand() {
	new_test_ext().execute_with(|| {
		let id = create(OWNER, ContributionPolicy::Open);
		let hashes: Vec<H256> = (0..7).map(hash).collect();
		for (n, h) in hashes.iter().enumerate() {
			assert_ok!(Datanets::contribute(origin(ALICE), id, *h, 100, n as u32 + 1, None));
		}
		assert_ok!(Datanets::freeze_version(origin(OWNER), id));
		let root = Datanets::version(id, 1).expect("frozen").merkle_root;
		assert_eq!(root, binary_merkle_tree::merkle_root::<BlakeTwo256, _>(hashes.clone()));
		assert_eq!(root, Datanets::merkle_root(&hashes));
		assert_eq!(root, version_root(&hashes));

		// The rule written out: leaves are blake2-256 of the content hashes, inner nodes
		// blake2-256 of the two children, an odd last node promoted.
		let blake = |bytes: &[u8]| H256(polkadot_sdk::sp_io::hashing::blake2_256(bytes));
		let mut layer: Vec<H256> = hashes.iter().map(|h| blake(h.as_bytes())).collect();
		while layer.len() > 1 {
			layer = layer
				.chunks(2)
				.map(|pair| match pair {
					[l, r] => blake(&[l.as_bytes(), r.as_bytes()].concat()),
					[single] => *single,
					_ => unreachable!("chunks of two"),
				})
				.collect();
		}
		assert_eq!(Some(root), layer.first().copied());

		// A proof for each record verifies against the frozen root.
		let records = Datanets::version_records(id, 1);
		for (index, h) in records.iter().enumerate() {
			let proof = version_proof(&records, index as u32);
			assert!(verify_version_proof(&root, proof.proof, 7, index as u32, h));
		}
		try_state();
	});
}

#[test]
fn freeze_version_fails() {
	new_test_ext().execute_with(|| {
		let id = curated();
		assert_noop!(Datanets::freeze_version(origin(OWNER), 7), Error::UnknownDatanet);
		assert_noop!(Datanets::freeze_version(origin(OWNER), id), Error::NothingToFreeze);
		let c = contribute(ALICE, id, 1, 10);
		// Pending records are not frozen.
		assert_noop!(Datanets::freeze_version(origin(OWNER), id), Error::NothingToFreeze);
		assert_ok!(Datanets::accept_contribution(origin(CURATOR), id, c, None, None));
		assert_noop!(Datanets::freeze_version(origin(ALICE), id), Error::NotCurator);
		try_state();
	});
}

#[test]
fn freeze_version_fails_with_too_many_versions() {
	new_test_ext().execute_with(|| {
		let id = create(OWNER, ContributionPolicy::Open);
		for n in 0..u64::from(MAX_VERSIONS) {
			contribute(ALICE, id, n, 1);
			assert_ok!(Datanets::freeze_version(origin(OWNER), id));
		}
		assert_noop!(Datanets::freeze_version(origin(OWNER), id), Error::TooManyVersions);
		try_state();
	});
}

// ----- withdraw_contribution -----

#[test]
fn withdraw_contribution_works_for_a_pending_record() {
	new_test_ext().execute_with(|| {
		let id = curated();
		let c = contribute(ALICE, id, 1, 10);
		assert_eq!(held_record(ALICE), deposit(SIZE));
		assert_ok!(Datanets::withdraw_contribution(origin(ALICE), id, c));
		assert_eq!(Contributions::<Test>::get(id, c), None);
		assert_eq!(ContentIndex::<Test>::get(id, hash(1)), None);
		assert_eq!(held_record(ALICE), 0);
		assert_eq!(Balances::balance(&ALICE), INITIAL);
		System::assert_has_event(
			Event::ContributionWithdrawn {
				datanet: id,
				contribution: c,
				contributor: ALICE,
				released: deposit(SIZE),
			}
			.into(),
		);
		let info = info_of(id).expect("exists");
		assert_eq!((info.contribution_count, info.live_count), (1, 0));
		// The content hash is free again; ids are not reused.
		assert_eq!(contribute(BOB, id, 1, 10), 1);
		try_state();
	});
}

#[test]
fn withdraw_contribution_fails() {
	new_test_ext().execute_with(|| {
		let id = curated();
		let c = contribute(ALICE, id, 1, 10);
		assert_noop!(Datanets::withdraw_contribution(origin(ALICE), 7, c), Error::UnknownDatanet);
		assert_noop!(
			Datanets::withdraw_contribution(origin(ALICE), id, 99),
			Error::UnknownContribution
		);
		assert_noop!(Datanets::withdraw_contribution(origin(BOB), id, c), Error::NotContributor);
		assert_noop!(
			Datanets::withdraw_contribution(origin(CURATOR), id, c),
			Error::NotContributor
		);
		try_state();
	});
}

#[test]
fn withdraw_contribution_fails_for_an_accepted_record_of_an_active_datanet() {
	new_test_ext().execute_with(|| {
		let id = curated();
		let c = accepted(ALICE, id, 1, 10, 100);
		// It will be frozen: it stays.
		assert_noop!(Datanets::withdraw_contribution(origin(ALICE), id, c), Error::NotWithdrawable);
		let open = create(OWNER, ContributionPolicy::Open);
		let o = contribute(ALICE, open, 1, 10);
		assert_noop!(
			Datanets::withdraw_contribution(origin(ALICE), open, o),
			Error::NotWithdrawable
		);
		try_state();
	});
}

#[test]
fn withdraw_contribution_fails_for_a_frozen_record() {
	new_test_ext().execute_with(|| {
		let id = curated();
		let c = accepted(ALICE, id, 1, 10, 100);
		assert_ok!(Datanets::freeze_version(origin(OWNER), id));
		assert_noop!(Datanets::withdraw_contribution(origin(ALICE), id, c), Error::NotWithdrawable);
		// Not even once the datanet is closed: versions are immutable.
		assert_ok!(Datanets::close_datanet(origin(OWNER), id));
		assert_noop!(Datanets::withdraw_contribution(origin(ALICE), id, c), Error::NotWithdrawable);
		assert_eq!(held_record(ALICE), deposit(SIZE));
		try_state();
	});
}

/// Finding 3 (free storage): closing kept the records but released the deposit. Now the datanet
/// deposit stays held, and the records of a closed datanet's open version, which will never be
/// frozen, can be withdrawn with their deposits.
#[test]
fn a_closed_datanet_gives_back_its_unfrozen_records_and_keeps_its_deposit() {
	new_test_ext().execute_with(|| {
		let id = curated();
		let frozen = accepted(ALICE, id, 1, 100, 100);
		assert_ok!(Datanets::freeze_version(origin(OWNER), id));
		let open_a = accepted(BOB, id, 2, 30, 100);
		let open_b = accepted(BOB, id, 3, 20, 100);
		let open_c = accepted(CAROL, id, 4, 7, 100);
		let pending = contribute(ALICE, id, 5, 10);
		assert_ok!(Datanets::close_datanet(origin(OWNER), id));
		assert_eq!(held_datanet(OWNER), DEPOSIT);
		try_state();

		// A pending record comes back.
		assert_ok!(Datanets::withdraw_contribution(origin(ALICE), id, pending));
		assert_eq!(held_record(ALICE), deposit(SIZE));

		// An accepted, unfrozen one too: its weight leaves the open version.
		assert_ok!(Datanets::withdraw_contribution(origin(BOB), id, open_a));
		assert_eq!(held_record(BOB), deposit(SIZE));
		assert_eq!(stored_weight(BOB, id, 2), Some(20));
		assert_eq!(AcceptedOrder::<Test>::get(id, 1), None);
		let open = OpenVersions::<Test>::get(id);
		assert_eq!((open.records, open.weight), (2, 27));
		// The frontier is left as is: the version is never frozen.
		assert_eq!(open.frontier.leaves, 3);
		System::assert_has_event(
			Event::ContributionWithdrawn {
				datanet: id,
				contribution: open_a,
				contributor: BOB,
				released: deposit(SIZE),
			}
			.into(),
		);
		try_state();
		assert_ok!(Datanets::withdraw_contribution(origin(BOB), id, open_b));
		assert_eq!(stored_weight(BOB, id, 2), None);
		assert_eq!(held_record(BOB), 0);
		assert_eq!(Balances::balance(&BOB), INITIAL);
		assert_ok!(Datanets::withdraw_contribution(origin(CAROL), id, open_c));
		assert_eq!(Balances::balance(&CAROL), INITIAL);
		let open = OpenVersions::<Test>::get(id);
		assert_eq!((open.records, open.weight), (0, 0));

		// The frozen one stays, with its deposit and weight.
		assert_noop!(
			Datanets::withdraw_contribution(origin(ALICE), id, frozen),
			Error::NotWithdrawable
		);
		assert_eq!(held_record(ALICE), deposit(SIZE));
		assert_eq!(frozen_weight(id, 1, ALICE), 100);
		let info = info_of(id).expect("exists");
		assert_eq!(
			(info.contribution_count, info.live_count, info.accepted_count, info.frozen_count),
			(5, 1, 1, 1)
		);
		assert_eq!(held_datanet(OWNER), DEPOSIT);
		try_state();
	});
}

// ----- deposits -----

#[test]
fn a_record_holds_base_plus_per_byte_of_its_size() {
	new_test_ext().execute_with(|| {
		let id = create(OWNER, ContributionPolicy::Open);
		assert_ok!(Datanets::contribute(origin(ALICE), id, hash(1), 1, 1, None));
		assert_eq!(held_record(ALICE), RECORD_BASE + RECORD_PER_BYTE);
		assert_ok!(Datanets::contribute(origin(ALICE), id, hash(2), 500, 1, None));
		assert_eq!(held_record(ALICE), 2 * RECORD_BASE + 501 * RECORD_PER_BYTE);
		assert_eq!(Contributions::<Test>::get(id, 1).map(|r| r.deposit), Some(deposit(500)));
		// Separate from the datanet deposit.
		assert_eq!(held_datanet(ALICE), 0);
		assert_eq!(held_record(OWNER), 0);
		try_state();
	});
}

// ----- weights per version (finding 2) -----

#[test]
fn contributor_weights_are_recorded_per_version_and_fixed_when_frozen() {
	new_test_ext().execute_with(|| {
		let id = curated();
		accepted(ALICE, id, 1, 100, 100);
		accepted(BOB, id, 2, 50, 100);
		// Credited to the open version, but not visible before it is frozen.
		assert_eq!(stored_weight(ALICE, id, 1), Some(100));
		assert_eq!(<Datanets as DatanetWeights<u64>>::version_count(id), 0);
		assert_eq!(frozen_weight(id, 1, ALICE), 0);
		assert_eq!(weight_through(id, 1), 0);
		assert_eq!(contributor_versions(ALICE), vec![]);

		assert_ok!(Datanets::freeze_version(origin(OWNER), id));
		assert_eq!(<Datanets as DatanetWeights<u64>>::version_count(id), 1);
		assert_eq!(frozen_weight(id, 1, ALICE), 100);
		assert_eq!(frozen_weight(id, 1, BOB), 50);
		assert_eq!(frozen_weight(id, 1, CAROL), 0);
		assert_eq!(weight_through(id, 1), 150);

		// Version 2: ALICE again, CAROL new. Version 1 does not change.
		accepted(ALICE, id, 3, 30, 100);
		accepted(CAROL, id, 4, 20, 200);
		assert_eq!(stored_weight(ALICE, id, 2), Some(30));
		assert_eq!(frozen_weight(id, 2, ALICE), 0);
		assert_eq!(frozen_weight(id, 1, ALICE), 100);
		assert_eq!(weight_through(id, 2), 0);
		assert_eq!(contributor_versions(ALICE), vec![(id, 1, 100)]);
		assert_eq!(contributor_versions(CAROL), vec![]);
		assert_ok!(Datanets::freeze_version(origin(OWNER), id));
		assert_eq!(frozen_weight(id, 2, ALICE), 30);
		assert_eq!(frozen_weight(id, 2, CAROL), 40);
		assert_eq!(frozen_weight(id, 2, BOB), 0);
		// Cumulative: versions 1..=v.
		assert_eq!(weight_through(id, 1), 150);
		assert_eq!(weight_through(id, 2), 220);
		assert_eq!(weight_through(id, 3), 0);
		assert_eq!(Datanets::version(id, 2).map(|v| v.weight), Some(70));
		assert_eq!(contributor_versions(ALICE), vec![(id, 1, 100), (id, 2, 30)]);
		assert_eq!(contributor_versions(BOB), vec![(id, 1, 50)]);
		assert_eq!(contributor_versions(CAROL), vec![(id, 2, 40)]);

		// Accepting more touches only the open version 3.
		accepted(ALICE, id, 5, 1_000, 100);
		assert_eq!(frozen_weight(id, 1, ALICE), 100);
		assert_eq!(frozen_weight(id, 2, ALICE), 30);
		assert_eq!(frozen_weight(id, 3, ALICE), 0);
		assert_eq!(stored_weight(ALICE, id, 3), Some(1_000));
		assert_eq!(contributor_versions(ALICE), vec![(id, 1, 100), (id, 2, 30)]);
		// A closed datanet's open version never counts.
		assert_ok!(Datanets::close_datanet(origin(OWNER), id));
		assert_eq!(frozen_weight(id, 3, ALICE), 0);
		assert_eq!(contributor_versions(ALICE), vec![(id, 1, 100), (id, 2, 30)]);
		try_state();
	});
}

#[test]
fn contributor_versions_are_ascending_by_datanet_then_version() {
	new_test_ext().execute_with(|| {
		let mut expected = Vec::new();
		for d in 0..12u32 {
			let id = create(OWNER, ContributionPolicy::Open);
			assert_eq!(id, d);
			for v in 1..MAX_VERSIONS {
				let n = u64::from(d * 10 + v);
				assert_ok!(Datanets::contribute(origin(ALICE), id, hash(n), 100, v + d, None));
				assert_ok!(Datanets::freeze_version(origin(OWNER), id));
				expected.push((id, v, u128::from(v + d)));
			}
			// An unfrozen one, in the open version: not listed.
			assert_ok!(Datanets::contribute(
				origin(ALICE),
				id,
				hash(1_000 + u64::from(d)),
				1,
				1,
				None
			));
		}
		assert_eq!(contributor_versions(ALICE), expected);
		// An iterator: a caller may stop early.
		assert_eq!(
			<Datanets as DatanetWeights<u64>>::contributor_versions(&ALICE).next(),
			Some((0, 1, 1))
		);
		assert_eq!(contributor_versions(BOB), vec![]);
		try_state();
	});
}

// ----- invariants -----

#[test]
fn try_state_catches_broken_invariants() {
	new_test_ext().execute_with(|| {
		let id = create(OWNER, ContributionPolicy::Open);
		contribute(ALICE, id, 1, 10);
		try_state();
		// Weight with no record behind it.
		ContributorWeights::<Test>::insert((BOB, id, 1), 1);
		assert!(Datanets::do_try_state().is_err());
		ContributorWeights::<Test>::remove((BOB, id, 1));
		try_state();
		// A zero entry.
		ContributorWeights::<Test>::insert((ALICE, id, 2), 0);
		assert!(Datanets::do_try_state().is_err());
		ContributorWeights::<Test>::remove((ALICE, id, 2));
		try_state();
		// An open version out of step with its records.
		OpenVersions::<Test>::mutate(id, |open| open.weight += 1);
		assert!(Datanets::do_try_state().is_err());
		OpenVersions::<Test>::mutate(id, |open| open.weight -= 1);
		try_state();
		// A deposit not held.
		assert_ok!(
			<Balances as polkadot_sdk::frame_support::traits::fungible::MutateHold<u64>>::release(
				&HoldReason::ContributionDeposit.into(),
				&ALICE,
				1,
				polkadot_sdk::frame_support::traits::tokens::Precision::Exact
			)
		);
		assert!(Datanets::do_try_state().is_err());
	});
}

#[test]
fn try_state_catches_an_unknown_curator() {
	new_test_ext().execute_with(|| {
		let id = create(OWNER, ContributionPolicy::Open);
		Curators::<Test>::insert(id, BOB, ());
		assert!(Datanets::do_try_state().is_err());
	});
}

#[test]
fn hold_errors_are_reported_as_insufficient_balance() {
	new_test_ext().execute_with(|| {
		// The raw error from the currency, for reference: the pallet maps it.
		assert_eq!(
			<Balances as polkadot_sdk::frame_support::traits::fungible::MutateHold<u64>>::hold(
				&HoldReason::DatanetDeposit.into(),
				&POOR,
				DEPOSIT
			),
			Err(TokenError::FundsUnavailable.into())
		);
	});
}
