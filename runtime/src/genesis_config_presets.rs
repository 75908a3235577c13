//! Genesis presets: the only source of genesis state. `scripts/chain-spec` turns them into
//! chain specs with `polkadot-omni-node chain-spec-builder … named-preset <name>`.
//!
//! - `development`: one collator (Alice), Alice is sudo, the well-known dev accounts and the
//!   Ethereum dev accounts (alith … ethan, as `subxt_signer::eth::dev` names them) are funded.
//! - `local_testnet`: as `development` with two collators (Alice and Bob).

#![warn(missing_docs)]

use crate::{
	currency::{EXISTENTIAL_DEPOSIT, UNIT},
	AccountId, AuraId, BalancesConfig, CollatorSelectionConfig, ParachainInfoConfig,
	PolkadotXcmConfig, Runtime, RuntimeGenesisConfig, SessionConfig, SessionKeys, SudoConfig,
	PARACHAIN_ID,
};
use alloc::{vec, vec::Vec};
use polkadot_sdk::{
	cumulus_primitives_core::ParaId,
	frame_support::build_struct_json_patch,
	pallet_revive::AddressMapper,
	sp_core::H160,
	sp_genesis_builder::{self, PresetId},
	sp_keyring::Sr25519Keyring,
	staging_xcm::prelude::XCM_VERSION,
	*,
};
use serde_json::Value;

/// The balance each endowed dev account starts with: one million LIN.
pub const ENDOWMENT: u128 = 1_000_000 * UNIT;

/// The Ethereum dev accounts' addresses (private keys are public test keys, as in
/// `subxt_signer::eth::dev`): alith, baltathar, charleth, dorothy, ethan.
pub const ETH_DEV_ADDRESSES: [[u8; 20]; 5] = [
	hex_literal::hex!("f24ff3a9cf04c71dbc94d0b566f7a27b94566cac"),
	hex_literal::hex!("3cd0a705a2dc65e5b1e1205896baa2be8a07c6e0"),
	hex_literal::hex!("798d4ba9baf0064ec19eb4f0a1a45785ae9d6dfc"),
	hex_literal::hex!("773539d4ac0e786233d90a233654ccee26a613d9"),
	hex_literal::hex!("ff64d3f6efe2317ee2807d223a0bdc4c0c49dfdb"),
];

/// The accounts funded in dev and local genesis: the sr25519 well-known keys and the
/// Ethereum dev accounts (their `AccountId32` is the address followed by twelve `0xEE` bytes).
pub fn endowed_accounts() -> Vec<AccountId> {
	Sr25519Keyring::well_known()
		.map(|k| k.to_account_id())
		.chain(ETH_DEV_ADDRESSES.iter().map(|a| {
			<Runtime as pallet_revive::Config>::AddressMapper::to_fallback_account_id(&H160(*a))
		}))
		.collect()
}

fn session_keys(aura: AuraId) -> SessionKeys {
	SessionKeys { aura }
}

fn lineage_genesis(
	invulnerables: Vec<(AccountId, AuraId)>,
	endowed_accounts: Vec<AccountId>,
	root: AccountId,
	id: ParaId,
) -> Value {
	build_struct_json_patch!(RuntimeGenesisConfig {
		balances: BalancesConfig {
			balances: endowed_accounts.iter().cloned().map(|k| (k, ENDOWMENT)).collect::<Vec<_>>(),
		},
		parachain_info: ParachainInfoConfig { parachain_id: id },
		collator_selection: CollatorSelectionConfig {
			invulnerables: invulnerables.iter().cloned().map(|(acc, _)| acc).collect::<Vec<_>>(),
			candidacy_bond: EXISTENTIAL_DEPOSIT * 16,
		},
		session: SessionConfig {
			keys: invulnerables
				.into_iter()
				.map(|(acc, aura)| (acc.clone(), acc, session_keys(aura)))
				.collect::<Vec<_>>(),
		},
		polkadot_xcm: PolkadotXcmConfig { safe_xcm_version: Some(XCM_VERSION) },
		sudo: SudoConfig { key: Some(root) },
	})
}

fn collator(k: Sr25519Keyring) -> (AccountId, AuraId) {
	(k.to_account_id(), k.public().into())
}

fn local_testnet_genesis() -> Value {
	lineage_genesis(
		vec![collator(Sr25519Keyring::Alice), collator(Sr25519Keyring::Bob)],
		endowed_accounts(),
		Sr25519Keyring::Alice.to_account_id(),
		PARACHAIN_ID.into(),
	)
}

fn development_genesis() -> Value {
	lineage_genesis(
		vec![collator(Sr25519Keyring::Alice)],
		endowed_accounts(),
		Sr25519Keyring::Alice.to_account_id(),
		PARACHAIN_ID.into(),
	)
}

/// Provides the JSON representation of the genesis preset named `id`.
pub fn get_preset(id: &PresetId) -> Option<Vec<u8>> {
	let patch = match id.as_ref() {
		sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET => local_testnet_genesis(),
		sp_genesis_builder::DEV_RUNTIME_PRESET => development_genesis(),
		_ => return None,
	};
	Some(
		serde_json::to_string(&patch)
			.expect("serialization to json is expected to work. qed.")
			.into_bytes(),
	)
}

/// The names of the presets this runtime provides.
pub fn preset_names() -> Vec<PresetId> {
	vec![
		PresetId::from(sp_genesis_builder::DEV_RUNTIME_PRESET),
		PresetId::from(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET),
	]
}
