//! Unit tests on the mock runtime.

use crate::{
	mock::{Datanets, *},
	*,
};
use polkadot_sdk::{
	binary_merkle_tree,
	frame_support::{
		assert_noop, assert_ok,
		traits::{
			fungible::{Inspect, InspectHold},
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

fn origin(who: u64) -> RuntimeOrigin {
	RuntimeOrigin::signed(who)
}

fn bounded<S: Get<u32>>(bytes: &[u8]) -> BoundedVec<u8, S> {
	BoundedVec::try_from(bytes.to_vec()).expect("test input fits")
}

fn hash(n: u64) -> H256 {
	H256::from_low_u64_be(n.saturating_add(1))
}

fn held(who: u64) -> u64 {
	<Balances as InspectHold<u64>>::balance_on_hold(&HoldReason::DatanetDeposit.into(), &who)
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

fn contribute(who: u64, datanet: DatanetId, n: u64, tokens: u64) -> ContributionId {
	let id = info_of(datanet).map(|d| d.contribution_count).unwrap_or_default();
	assert_ok!(Datanets::contribute(origin(who), datanet, hash(n), 1_000, tokens, None));
	id
}

fn info_of(id: DatanetId) -> Option<DatanetInfo<Test>> {
	crate::Datanets::<Test>::get(id)
}

fn try_state() {
	assert_ok!(Datanets::do_try_state());
}

// ----- configuration -----

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
	assert_eq!(
		Datanets::contribution_weight(u64::MAX, u16::MAX),
		u128::from(u64::MAX) * u128::from(u16::MAX) / 100
	);
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
		assert_eq!(info.created_at, 1);
		assert_eq!(held(OWNER), DEPOSIT);
		assert_eq!(Balances::balance(&OWNER), 100 - DEPOSIT);
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
		assert_eq!(held(OWNER), 2 * DEPOSIT);
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
			Datanets::accept_contribution(origin(CURATOR), id, c, None),
			Error::NotCurator
		);
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
		assert_eq!(held(OWNER), 0);
		assert_eq!(Balances::balance(&OWNER), 100);
		assert_eq!(held(ALICE), DEPOSIT);
		assert_eq!(Balances::balance(&ALICE), 100 - DEPOSIT);
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
		assert_eq!(held(OWNER), DEPOSIT);
		assert_eq!(held(POOR), 0);
		assert_ok!(Datanets::close_datanet(origin(OWNER), id));
		assert_noop!(Datanets::transfer_ownership(origin(OWNER), id, ALICE), Error::DatanetClosed);
		try_state();
	});
}

// ----- close_datanet -----

#[test]
fn close_datanet_works() {
	new_test_ext().execute_with(|| {
		let id = create(OWNER, ContributionPolicy::Open);
		contribute(ALICE, id, 1, 50);
		assert_ok!(Datanets::freeze_version(origin(OWNER), id));
		assert_ok!(Datanets::close_datanet(origin(OWNER), id));
		let info = info_of(id).expect("exists");
		assert_eq!(info.status, DatanetStatus::Closed);
		assert_eq!(info.deposit, 0);
		assert_eq!(held(OWNER), 0);
		assert_eq!(Balances::balance(&OWNER), 100);
		System::assert_has_event(Event::DatanetClosed { datanet: id, released: DEPOSIT }.into());
		// Versions stay readable and citeable; weights stay.
		assert!(Datanets::version(id, 1).is_some());
		assert!(<Datanets as DatanetInspect>::is_frozen_version(&DatanetVersionRef {
			datanet: id,
			version: 1
		}));
		assert_eq!(Datanets::contributor_weight(id, &ALICE), 50);
		assert_eq!(Datanets::total_weight(id), 50);
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
		// Nothing more happens in a closed datanet.
		assert_noop!(
			Datanets::contribute(origin(ALICE), id, hash(2), 1, 1, None),
			Error::DatanetClosed
		);
		assert_noop!(
			Datanets::accept_contribution(origin(CURATOR), id, c, None),
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
		assert_ok!(Datanets::contribute(origin(ALICE), id, hash(1), 2_048, 500, uri.clone()));
		let record = Contributions::<Test>::get(id, 0).expect("stored");
		assert_eq!(record.contributor, ALICE);
		assert_eq!(record.content_hash, hash(1));
		assert_eq!(record.size_bytes, 2_048);
		assert_eq!(record.tokens, 500);
		assert_eq!(record.uri, uri);
		assert_eq!(record.status, ContributionStatus::Accepted { quality: 100, weight: 500 });
		assert_eq!(record.submitted_at, 1);
		assert_eq!(ContentIndex::<Test>::get(id, hash(1)), Some(0));
		assert_eq!(Unversioned::<Test>::get(id).to_vec(), vec![hash(1)]);
		assert_eq!(Datanets::contributor_weight(id, &ALICE), 500);
		assert_eq!(Datanets::total_weight(id), 500);
		let info = info_of(id).expect("exists");
		assert_eq!((info.contribution_count, info.accepted_count), (1, 1));
		System::assert_has_event(
			Event::ContributionSubmitted {
				datanet: id,
				contribution: 0,
				contributor: ALICE,
				content_hash: hash(1),
				size_bytes: 2_048,
				tokens: 500,
			}
			.into(),
		);
		System::assert_has_event(
			Event::ContributionAccepted {
				datanet: id,
				contribution: 0,
				contributor: ALICE,
				quality: 100,
				weight: 500,
			}
			.into(),
		);
		// Ids count up; weights add up per contributor.
		assert_eq!(contribute(ALICE, id, 2, 100), 1);
		assert_eq!(contribute(BOB, id, 3, 10), 2);
		assert_eq!(Datanets::contributor_weight(id, &ALICE), 600);
		assert_eq!(Datanets::contributor_weight(id, &BOB), 10);
		assert_eq!(Datanets::total_weight(id), 610);
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
		assert!(Unversioned::<Test>::get(id).is_empty());
		assert_eq!(Datanets::contributor_weight(id, &ALICE), 0);
		assert_eq!(Datanets::total_weight(id), 0);
		System::assert_has_event(
			Event::ContributionSubmitted {
				datanet: id,
				contribution: 0,
				contributor: ALICE,
				content_hash: hash(1),
				size_bytes: 1_000,
				tokens: 500,
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
		contribute(ALICE, id, 1, 1);
		// Duplicate content, from anyone, whatever its status.
		assert_noop!(
			Datanets::contribute(origin(BOB), id, hash(1), 1, 1, None),
			Error::DuplicateContent
		);
		assert_ok!(Datanets::reject_contribution(origin(CURATOR), id, 0, 3));
		assert_noop!(
			Datanets::contribute(origin(BOB), id, hash(1), 1, 1, None),
			Error::DuplicateContent
		);
		// The same content may go to another datanet.
		let other = create(BOB, ContributionPolicy::Curated);
		contribute(BOB, other, 1, 1);
		try_state();
	});
}

#[test]
fn contribute_fails_when_datanet_is_full() {
	new_test_ext().execute_with(|| {
		let id = curated();
		for n in 0..u64::from(MAX_PER_DATANET) {
			contribute(ALICE, id, n, 1);
		}
		assert_noop!(
			Datanets::contribute(origin(ALICE), id, hash(1_000), 1, 1, None),
			Error::TooManyContributions
		);
		try_state();
	});
}

#[test]
fn contribute_fails_when_version_is_full() {
	new_test_ext().execute_with(|| {
		let id = create(OWNER, ContributionPolicy::Open);
		for n in 0..u64::from(MAX_PER_VERSION) {
			contribute(ALICE, id, n, 1);
		}
		assert_noop!(
			Datanets::contribute(origin(ALICE), id, hash(1_000), 1, 1, None),
			Error::VersionFull
		);
		// Freezing empties the list.
		assert_ok!(Datanets::freeze_version(origin(OWNER), id));
		contribute(ALICE, id, 1_000, 1);
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
		assert_ok!(Datanets::accept_contribution(origin(CURATOR), id, a, Some(250)));
		assert_eq!(
			Contributions::<Test>::get(id, a).map(|r| r.status),
			Some(ContributionStatus::Accepted { quality: 250, weight: 2_500 })
		);
		System::assert_has_event(
			Event::ContributionAccepted {
				datanet: id,
				contribution: a,
				contributor: ALICE,
				quality: 250,
				weight: 2_500,
			}
			.into(),
		);
		// By the owner, with the default quality.
		assert_ok!(Datanets::accept_contribution(origin(OWNER), id, b, None));
		// At the lowest quality.
		assert_ok!(Datanets::accept_contribution(origin(CURATOR), id, c, Some(10)));
		assert_eq!(Datanets::contributor_weight(id, &ALICE), 3_500);
		assert_eq!(Datanets::contributor_weight(id, &BOB), 4);
		assert_eq!(Datanets::total_weight(id), 3_504);
		assert_eq!(Unversioned::<Test>::get(id).to_vec(), vec![hash(1), hash(2), hash(3)]);
		assert_eq!(info_of(id).map(|d| d.accepted_count), Some(3));
		try_state();
	});
}

#[test]
fn accept_contribution_fails() {
	new_test_ext().execute_with(|| {
		let id = curated();
		let c = contribute(ALICE, id, 1, 10);
		assert_noop!(
			Datanets::accept_contribution(origin(CURATOR), 7, c, None),
			Error::UnknownDatanet
		);
		assert_noop!(Datanets::accept_contribution(origin(ALICE), id, c, None), Error::NotCurator);
		assert_noop!(
			Datanets::accept_contribution(origin(CURATOR), id, 99, None),
			Error::UnknownContribution
		);
		assert_noop!(
			Datanets::accept_contribution(origin(CURATOR), id, c, Some(9)),
			Error::QualityOutOfBounds
		);
		assert_noop!(
			Datanets::accept_contribution(origin(CURATOR), id, c, Some(301)),
			Error::QualityOutOfBounds
		);
		assert_ok!(Datanets::accept_contribution(origin(CURATOR), id, c, Some(300)));
		assert_noop!(
			Datanets::accept_contribution(origin(CURATOR), id, c, None),
			Error::NotPending
		);
		let r = contribute(ALICE, id, 2, 10);
		assert_ok!(Datanets::reject_contribution(origin(CURATOR), id, r, 0));
		assert_noop!(
			Datanets::accept_contribution(origin(CURATOR), id, r, None),
			Error::NotPending
		);
		try_state();
	});
}

#[test]
fn accept_contribution_fails_when_version_is_full() {
	new_test_ext().execute_with(|| {
		let id = curated();
		for n in 0..u64::from(MAX_PER_VERSION) {
			let c = contribute(ALICE, id, n, 1);
			assert_ok!(Datanets::accept_contribution(origin(CURATOR), id, c, None));
		}
		let c = contribute(ALICE, id, 1_000, 1);
		assert_noop!(
			Datanets::accept_contribution(origin(CURATOR), id, c, None),
			Error::VersionFull
		);
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
				d.total_weight = u128::MAX;
			}
		});
		assert_noop!(Datanets::accept_contribution(origin(CURATOR), id, c, None), Error::Overflow);
	});
}

// ----- reject_contribution -----

#[test]
fn reject_contribution_works() {
	new_test_ext().execute_with(|| {
		let id = curated();
		let a = contribute(ALICE, id, 1, 10);
		let b = contribute(ALICE, id, 2, 10);
		assert_ok!(Datanets::reject_contribution(origin(CURATOR), id, a, 4));
		assert_eq!(
			Contributions::<Test>::get(id, a).map(|r| r.status),
			Some(ContributionStatus::Rejected { reason: 4 })
		);
		System::assert_has_event(
			Event::ContributionRejected { datanet: id, contribution: a, reason: 4 }.into(),
		);
		assert_ok!(Datanets::reject_contribution(origin(OWNER), id, b, 0));
		assert_eq!(Datanets::total_weight(id), 0);
		assert!(Unversioned::<Test>::get(id).is_empty());
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
		assert_ok!(Datanets::accept_contribution(origin(CURATOR), id, c, None));
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
		assert_ok!(Datanets::accept_contribution(origin(CURATOR), id, c, None));
		assert_ok!(Datanets::accept_contribution(origin(CURATOR), id, a, Some(200)));
		assert_ok!(Datanets::reject_contribution(origin(CURATOR), id, b, 1));
		System::set_block_number(5);
		assert_ok!(Datanets::freeze_version(origin(CURATOR), id));
		let root = binary_merkle_tree::merkle_root::<BlakeTwo256, _>(vec![hash(3), hash(1)]);
		let v1 = Datanets::version(id, 1).expect("frozen");
		assert_eq!(
			v1,
			VersionInfo {
				merkle_root: root,
				contributions: 2,
				total_contributions: 2,
				total_weight: 500,
				frozen_at: 5,
			}
		);
		System::assert_has_event(
			Event::VersionFrozen {
				datanet: id,
				version: 1,
				merkle_root: root,
				contributions: 2,
				total_weight: 500,
			}
			.into(),
		);
		assert!(Unversioned::<Test>::get(id).is_empty());
		assert_eq!(info_of(id).map(|d| d.version_count), Some(1));

		// The second version holds only what came after the first; totals are cumulative.
		let d = contribute(BOB, id, 4, 50);
		assert_ok!(Datanets::accept_contribution(origin(OWNER), id, d, None));
		assert_ok!(Datanets::freeze_version(origin(OWNER), id));
		let v2 = Datanets::version(id, 2).expect("frozen");
		assert_eq!(v2.merkle_root, binary_merkle_tree::merkle_root::<BlakeTwo256, _>([hash(4)]));
		assert_eq!((v2.contributions, v2.total_contributions, v2.total_weight), (1, 3, 550));
		assert_eq!(Datanets::version(id, 1), Some(v1));
		assert_eq!(Datanets::version(id, 3), None);
		assert!(<Datanets as DatanetInspect>::is_frozen_version(&DatanetVersionRef {
			datanet: id,
			version: 2
		}));
		assert!(!<Datanets as DatanetInspect>::is_frozen_version(&DatanetVersionRef {
			datanet: id,
			version: 3
		}));
		assert!(!<Datanets as DatanetInspect>::is_frozen_version(&DatanetVersionRef {
			datanet: id,
			version: 0
		}));
		try_state();
	});
}

#[test]
fn freeze_version_root_matches_merkle_root_by_hand() {
	new_test_ext().execute_with(|| {
		let id = create(OWNER, ContributionPolicy::Open);
		let hashes: Vec<H256> = (0..u64::from(MAX_PER_VERSION) - 1).map(hash).collect();
		for (n, h) in hashes.iter().enumerate() {
			assert_ok!(Datanets::contribute(origin(ALICE), id, *h, 1, n as u64 + 1, None));
		}
		assert_ok!(Datanets::freeze_version(origin(OWNER), id));
		let root = Datanets::version(id, 1).expect("frozen").merkle_root;
		assert_eq!(root, binary_merkle_tree::merkle_root::<BlakeTwo256, _>(hashes.clone()));
		assert_eq!(root, Datanets::merkle_root(&hashes));

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

		// A proof for each contribution verifies against the frozen root.
		for (index, h) in hashes.iter().enumerate() {
			let proof =
				binary_merkle_tree::merkle_proof::<BlakeTwo256, _, _>(hashes.clone(), index as u32);
			assert!(binary_merkle_tree::verify_proof::<BlakeTwo256, _, _>(
				&root,
				proof.proof,
				proof.number_of_leaves,
				proof.leaf_index,
				h,
			));
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
		// Pending contributions are not frozen.
		assert_noop!(Datanets::freeze_version(origin(OWNER), id), Error::NothingToFreeze);
		assert_ok!(Datanets::accept_contribution(origin(CURATOR), id, c, None));
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
		contribute(ALICE, id, 1_000, 1);
		assert_noop!(Datanets::freeze_version(origin(OWNER), id), Error::TooManyVersions);
		try_state();
	});
}

#[test]
fn freeze_version_refunds_weight_down_to_n() {
	new_test_ext().execute_with(|| {
		let id = create(OWNER, ContributionPolicy::Open);
		contribute(ALICE, id, 1, 1);
		contribute(ALICE, id, 2, 1);
		let post = Datanets::freeze_version(origin(OWNER), id).expect("freezes");
		assert_eq!(post.actual_weight, Some(<() as WeightInfo>::freeze_version(2)));
	});
}

// ----- invariants -----

#[test]
fn try_state_catches_broken_invariants() {
	new_test_ext().execute_with(|| {
		let id = create(OWNER, ContributionPolicy::Open);
		contribute(ALICE, id, 1, 10);
		try_state();
		ContributorWeights::<Test>::insert(id, BOB, 1);
		assert!(Datanets::do_try_state().is_err());
		ContributorWeights::<Test>::remove(id, BOB);
		try_state();
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
