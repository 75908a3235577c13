//! Runtime tests on the real runtime type (native): the genesis presets build a state with the
//! accounts, collators and settings the chain specs promise, and a signed transfer dispatches.

mod common;

use common::genesis;
use lineage_runtime::{
	currency::{DECIMALS, EXISTENTIAL_DEPOSIT, UNIT},
	genesis_config_presets::{endowed_accounts, preset_names, ENDOWMENT},
	AccountId, Balances, ParachainInfo, Runtime, RuntimeCall, RuntimeOrigin, PARACHAIN_ID,
};
use polkadot_sdk::{
	frame_support::{
		assert_ok,
		traits::{fungible::Inspect, Get},
	},
	pallet_revive::AddressMapper,
	sp_core::H160,
	sp_keyring::Sr25519Keyring,
	sp_runtime::traits::Dispatchable,
	*,
};

#[test]
fn presets_are_listed() {
	assert_eq!(preset_names(), vec!["development".to_string(), "local_testnet".to_string()]);
}

#[test]
fn development_preset_funds_dev_accounts_and_sets_collator_and_sudo() {
	genesis("development").execute_with(|| {
		let alice = Sr25519Keyring::Alice.to_account_id();
		for who in endowed_accounts() {
			assert_eq!(Balances::balance(&who), ENDOWMENT);
		}
		assert_eq!(pallet_sudo::Key::<Runtime>::get(), Some(alice.clone()));
		assert_eq!(
			pallet_collator_selection::Invulnerables::<Runtime>::get().to_vec(),
			vec![alice]
		);
		assert_eq!(pallet_aura::Authorities::<Runtime>::get().len(), 1);
		assert_eq!(u32::from(ParachainInfo::parachain_id()), PARACHAIN_ID);
	});
}

#[test]
fn local_testnet_preset_has_two_collators() {
	genesis("local_testnet").execute_with(|| {
		// Invulnerables are kept sorted by account id.
		let mut collators = pallet_collator_selection::Invulnerables::<Runtime>::get().to_vec();
		collators.sort();
		let mut expected =
			vec![Sr25519Keyring::Alice.to_account_id(), Sr25519Keyring::Bob.to_account_id()];
		expected.sort();
		assert_eq!(collators, expected);
		assert_eq!(pallet_aura::Authorities::<Runtime>::get().len(), 2);
	});
}

#[test]
fn ethereum_dev_account_is_funded_under_its_fallback_account() {
	genesis("development").execute_with(|| {
		// alith, the first Ethereum dev account.
		let alith = H160(hex_literal::hex!("f24ff3a9cf04c71dbc94d0b566f7a27b94566cac"));
		let account: AccountId =
			<Runtime as pallet_revive::Config>::AddressMapper::to_fallback_account_id(&alith);
		assert_eq!(Balances::balance(&account), ENDOWMENT);
		assert_eq!(<Runtime as pallet_revive::Config>::AddressMapper::to_address(&account), alith);
	});
}

#[test]
fn token_has_ten_decimals_and_matches_the_eth_ratio() {
	assert_eq!(DECIMALS, 10);
	assert_eq!(UNIT, 10u128.pow(DECIMALS as u32));
	let ratio: u32 = <<Runtime as pallet_revive::Config>::NativeToEthRatio as Get<u32>>::get();
	assert_eq!(10u128.pow(18 - DECIMALS as u32), ratio as u128);
	assert_eq!(
		<<Runtime as pallet_balances::Config>::ExistentialDeposit as Get<u128>>::get(),
		EXISTENTIAL_DEPOSIT
	);
}

#[test]
fn signed_transfer_moves_exact_amount() {
	genesis("development").execute_with(|| {
		let alice = Sr25519Keyring::Alice.to_account_id();
		let dave = Sr25519Keyring::Dave.to_account_id();
		let amount = 7 * UNIT;
		let call = RuntimeCall::Balances(pallet_balances::Call::transfer_keep_alive {
			dest: dave.clone().into(),
			value: amount,
		});
		assert_ok!(call.dispatch(RuntimeOrigin::signed(alice.clone())));
		assert_eq!(Balances::balance(&alice), ENDOWMENT - amount);
		assert_eq!(Balances::balance(&dave), ENDOWMENT + amount);
	});
}

#[test]
fn transfer_above_balance_fails_and_changes_nothing() {
	genesis("development").execute_with(|| {
		let ferdie = Sr25519Keyring::Ferdie.to_account_id();
		let dave = Sr25519Keyring::Dave.to_account_id();
		let call = RuntimeCall::Balances(pallet_balances::Call::transfer_keep_alive {
			dest: dave.clone().into(),
			value: ENDOWMENT + 1,
		});
		assert!(call.dispatch(RuntimeOrigin::signed(ferdie.clone())).is_err());
		assert_eq!(Balances::balance(&ferdie), ENDOWMENT);
		assert_eq!(Balances::balance(&dave), ENDOWMENT);
	});
}
