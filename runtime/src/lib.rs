//! # Lineage runtime
//!
//! The parachain runtime of Lineage: a cumulus parachain (Aura collators, `u32` block numbers)
//! that also runs alone in dev mode under `polkadot-omni-node --dev`. It carries
//!
//! - the system band: system, parachain-system, timestamp, parachain-info, weight-reclaim;
//! - the money band: balances and transaction payment in the native token **LIN** (10 decimals);
//! - governance and account tools: sudo, utility, multisig, proxy;
//! - collator support: authorship, collator-selection, session, aura, aura-ext;
//! - XCM: the XCMP queue, pallet-xcm, cumulus-xcm and the message queue;
//! - smart contracts: pallet-revive (`Revive`), configured like the `revive-dev-runtime`
//!   (AccountId32 accounts mapped to H160, EVM and PolkaVM bytecode, the revive extrinsic type);
//! - Lineage's own pallets (registries, usage, attribution) in the 50s band.
//!
//! Layout, as in the polkadot-sdk parachain template: types and `VERSION` here, pallet
//! configuration under [`configs`], runtime APIs in [`apis`], genesis presets in
//! [`genesis_config_presets`].

#![cfg_attr(not(feature = "std"), no_std)]
// `#[frame_support::runtime]` does a lot of recursion and requires us to increase the limit.
#![recursion_limit = "256"]
// `#[frame_support::runtime]` below generates public items at the crate root (`RuntimeCall`,
// `RuntimeEvent`, `PalletInfo`, each pallet's `*Config`, …) with no docs, which no attribute
// reaches: `missing_docs` is allowed here, at the root, and every hand-written module turns it
// back on (`#![warn(missing_docs)]`).
#![allow(missing_docs)]

/// The runtime's wasm, as substrate-wasm-builder wrote it: `WASM_BINARY` (compact and
/// compressed), `WASM_BINARY_BLOATY` and `WASM_BINARY_PATH`.
#[cfg(feature = "std")]
pub mod wasm {
	// The builder's generated file documents none of its constants.
	#![allow(missing_docs)]
	include!(concat!(env!("OUT_DIR"), "/wasm_binary.rs"));
}
#[cfg(feature = "std")]
pub use wasm::*;

extern crate alloc;

pub mod apis;
#[cfg(feature = "runtime-benchmarks")]
mod benchmarks;
pub mod configs;
pub mod genesis_config_presets;
pub mod precompiles;
pub mod weights;

use alloc::{borrow::Cow, vec::Vec};
use polkadot_sdk::{
	sp_runtime::{generic, impl_opaque_keys, traits::BlakeTwo256, MultiAddress},
	sp_version::RuntimeVersion,
	*,
};

pub use lineage_primitives::{AccountId, Balance, BlockNumber, Hash, Nonce, Signature};
pub use polkadot_sdk::{
	sp_consensus_aura::sr25519::AuthorityId as AuraId,
	sp_runtime::{Perbill, Permill},
};

/// The address format for describing accounts.
pub type Address = MultiAddress<AccountId, ()>;

/// Block header type as expected by this runtime.
pub type Header = generic::Header<BlockNumber, BlakeTwo256>;

/// Block type as expected by this runtime.
pub type Block = generic::Block<Header, UncheckedExtrinsic>;

/// A Block signed with a Justification.
pub type SignedBlock = generic::SignedBlock<Block>;

/// BlockId type as expected by this runtime.
pub type BlockId = generic::BlockId<Block>;

/// The transaction extensions, in the order a signed extrinsic carries them.
///
/// `StorageWeightReclaim` wraps the whole pipeline so that it sees the proof size actually used.
/// `SetOrigin` comes after every extension that relies on a signed origin, as pallet-revive asks.
pub type TxExtension = cumulus_pallet_weight_reclaim::StorageWeightReclaim<
	Runtime,
	(
		frame_system::AuthorizeCall<Runtime>,
		frame_system::CheckNonZeroSender<Runtime>,
		frame_system::CheckSpecVersion<Runtime>,
		frame_system::CheckTxVersion<Runtime>,
		frame_system::CheckGenesis<Runtime>,
		frame_system::CheckEra<Runtime>,
		frame_system::CheckNonce<Runtime>,
		frame_system::CheckWeight<Runtime>,
		pallet_transaction_payment::ChargeTransactionPayment<Runtime>,
		frame_metadata_hash_extension::CheckMetadataHash<Runtime>,
		pallet_revive::evm::tx_extension::SetOrigin<Runtime>,
	),
>;

/// The extensions pallet-revive applies to Ethereum transactions (those that arrive through
/// `eth_transact`), so that they are checked and charged exactly like native ones.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EthExtraImpl;

impl pallet_revive::evm::runtime::EthExtra for EthExtraImpl {
	type Config = Runtime;
	type ExtensionV0 = TxExtension;
	type ExtensionOtherVersions = sp_runtime::traits::InvalidVersion;

	fn get_eth_extension(nonce: u32, tip: Balance) -> Self::ExtensionV0 {
		(
			frame_system::AuthorizeCall::<Runtime>::new(),
			frame_system::CheckNonZeroSender::<Runtime>::new(),
			frame_system::CheckSpecVersion::<Runtime>::new(),
			frame_system::CheckTxVersion::<Runtime>::new(),
			frame_system::CheckGenesis::<Runtime>::new(),
			frame_system::CheckMortality::<Runtime>::from(generic::Era::Immortal),
			frame_system::CheckNonce::<Runtime>::from(nonce),
			frame_system::CheckWeight::<Runtime>::new(),
			pallet_transaction_payment::ChargeTransactionPayment::<Runtime>::from(tip),
			frame_metadata_hash_extension::CheckMetadataHash::<Runtime>::new(false),
			pallet_revive::evm::tx_extension::SetOrigin::<Runtime>::new_from_eth_transaction(),
		)
			.into()
	}
}

/// Unchecked extrinsic type as expected by this runtime: the revive wrapper, which also accepts
/// signed Ethereum transactions.
pub type UncheckedExtrinsic =
	pallet_revive::evm::runtime::UncheckedExtrinsic<Address, Signature, EthExtraImpl>;

/// Migrations to apply on runtime upgrade.
pub type Migrations = ();

/// Executive: handles dispatch to the various modules.
pub type Executive = frame_executive::Executive<
	Runtime,
	Block,
	frame_system::ChainContext<Runtime>,
	Runtime,
	AllPalletsWithSystem,
>;

/// Opaque types. These are used by the node to instantiate machinery that does not need to know
/// the specifics of the runtime.
pub mod opaque {
	use super::*;
	pub use polkadot_sdk::sp_runtime::OpaqueExtrinsic as UncheckedExtrinsic;

	/// Opaque block header type.
	pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
	/// Opaque block type.
	pub type Block = generic::Block<Header, UncheckedExtrinsic>;
	/// Opaque block identifier type.
	pub type BlockId = generic::BlockId<Block>;
}

impl_opaque_keys! {
	/// The session keys of a collator: its Aura key.
	pub struct SessionKeys {
		/// The key the collator signs blocks with.
		pub aura: Aura,
	}
}

/// The runtime version. Bump `spec_version` for every runtime upgrade and
/// `transaction_version` whenever a call index or extrinsic format changes.
#[sp_version::runtime_version]
pub const VERSION: RuntimeVersion = RuntimeVersion {
	spec_name: Cow::Borrowed("lineage"),
	impl_name: Cow::Borrowed("lineage"),
	authoring_version: 1,
	spec_version: 1,
	impl_version: 0,
	apis: apis::RUNTIME_API_VERSIONS,
	transaction_version: 1,
	system_version: 1,
};

/// Block time and relay-chain timing.
pub mod time {
	use super::BlockNumber;

	/// The average block time the collators target. Blocks are produced at least this far apart
	/// (`SLOT_DURATION`); in dev mode omni-node's `--dev-block-time` sets the pace instead.
	pub const MILLISECS_PER_BLOCK: u64 = 6000;

	/// Aura slot duration. It cannot change once the chain has started.
	pub const SLOT_DURATION: u64 = MILLISECS_PER_BLOCK;

	/// One minute in blocks.
	pub const MINUTES: BlockNumber = 60_000 / (MILLISECS_PER_BLOCK as BlockNumber);
	/// One hour in blocks.
	pub const HOURS: BlockNumber = MINUTES * 60;
	/// One day in blocks.
	pub const DAYS: BlockNumber = HOURS * 24;
}

/// Units of the native token, **LIN**, which has 10 decimals (as the account model of
/// pallet-revive and ink!'s default environment expect with `NativeToEthRatio = 10^8`).
pub mod currency {
	use super::Balance;

	/// The number of decimals of LIN.
	pub const DECIMALS: u8 = 10;
	/// One LIN.
	pub const UNIT: Balance = 10_000_000_000;
	/// 1/100 LIN.
	pub const CENTS: Balance = UNIT / 100;
	/// 1/1_000 LIN.
	pub const MILLIUNIT: Balance = UNIT / 1_000;
	/// 1/1_000_000 LIN.
	pub const MICROUNIT: Balance = UNIT / 1_000_000;

	/// The existential deposit: the least balance an account may hold.
	pub const EXISTENTIAL_DEPOSIT: Balance = MILLIUNIT;

	/// The storage deposit for `items` storage items taking `bytes` bytes.
	pub const fn deposit(items: u32, bytes: u32) -> Balance {
		items as Balance * 20 * CENTS + (bytes as Balance) * 10 * MICROUNIT
	}
}

/// The token symbol, as put in chain specs.
pub const TOKEN_SYMBOL: &str = "LIN";

/// The SS58 address prefix. Lineage uses the generic Substrate prefix 42 until it registers its
/// own in the ss58-registry; wallets and dev tools show its addresses as `5…` addresses.
pub const SS58_PREFIX: u16 = 42;

/// The parachain id used by the chain specs that `scripts/chain-spec` makes.
pub const PARACHAIN_ID: u32 = 1000;

/// The chain id that Ethereum clients see through `eth-rpc` (EIP-155 replay protection).
pub const EVM_CHAIN_ID: u64 = 424_242;

// Create the runtime by composing the FRAME pallets configured in `configs`.
#[frame_support::runtime]
mod runtime {
	/// The Lineage runtime.
	#[runtime::runtime]
	#[runtime::derive(
		RuntimeCall,
		RuntimeEvent,
		RuntimeError,
		RuntimeOrigin,
		RuntimeFreezeReason,
		RuntimeHoldReason,
		RuntimeSlashReason,
		RuntimeLockId,
		RuntimeTask,
		RuntimeViewFunction
	)]
	pub struct Runtime;

	// --- System support (0–9). ---
	/// Accounts, blocks, events: the core of every FRAME runtime.
	#[runtime::pallet_index(0)]
	pub type System = frame_system;
	/// Relay-chain state, upward/downward messages and runtime upgrades of a parachain.
	#[runtime::pallet_index(1)]
	pub type ParachainSystem = cumulus_pallet_parachain_system;
	/// The block timestamp, set by an inherent.
	#[runtime::pallet_index(2)]
	pub type Timestamp = pallet_timestamp;
	/// This parachain's id.
	#[runtime::pallet_index(3)]
	pub type ParachainInfo = staging_parachain_info;
	/// Reclaims the proof size that an extrinsic did not use.
	#[runtime::pallet_index(4)]
	pub type WeightReclaim = cumulus_pallet_weight_reclaim;

	// --- Money (10–14). ---
	/// Balances of the native token, with holds and freezes.
	#[runtime::pallet_index(10)]
	pub type Balances = pallet_balances;
	/// Charges transaction fees.
	#[runtime::pallet_index(11)]
	pub type TransactionPayment = pallet_transaction_payment;

	// --- Governance (15–19). ---
	/// A single key with root rights, for dev and test networks.
	#[runtime::pallet_index(15)]
	pub type Sudo = pallet_sudo;

	// --- Collator support (20–29). The order of these five matters and must not change. ---
	/// Tracks the author of each block.
	#[runtime::pallet_index(20)]
	pub type Authorship = pallet_authorship;
	/// Chooses the collators: invulnerables and bonded candidates.
	#[runtime::pallet_index(21)]
	pub type CollatorSelection = pallet_collator_selection;
	/// Sessions and the collators' session keys.
	#[runtime::pallet_index(22)]
	pub type Session = pallet_session;
	/// Aura block authoring.
	#[runtime::pallet_index(23)]
	pub type Aura = pallet_aura;
	/// Aura checks specific to parachains.
	#[runtime::pallet_index(24)]
	pub type AuraExt = cumulus_pallet_aura_ext;

	// --- XCM (30–39). ---
	/// Messages to and from sibling parachains.
	#[runtime::pallet_index(30)]
	pub type XcmpQueue = cumulus_pallet_xcmp_queue;
	/// XCM execution and sending for users and governance.
	#[runtime::pallet_index(31)]
	pub type PolkadotXcm = pallet_xcm;
	/// XCM origins of cumulus.
	#[runtime::pallet_index(32)]
	pub type CumulusXcm = cumulus_pallet_xcm;
	/// Queues and services incoming messages.
	#[runtime::pallet_index(33)]
	pub type MessageQueue = pallet_message_queue;

	// --- Account tools (40–49). ---
	/// Batches of calls.
	#[runtime::pallet_index(40)]
	pub type Utility = pallet_utility;
	/// Multi-signature accounts.
	#[runtime::pallet_index(41)]
	pub type Multisig = pallet_multisig;
	/// Accounts acting for other accounts.
	#[runtime::pallet_index(42)]
	pub type Proxy = pallet_proxy;

	// --- Lineage (50–59): registries, usage, attribution and on-chain jobs. ---
	/// Datanets: datasets, their curators, contributions and frozen versions.
	#[runtime::pallet_index(50)]
	pub type Datanets = pallet_datanets;
	/// Base models and LoRA adapters with their lineage and prices.
	#[runtime::pallet_index(51)]
	pub type Models = pallet_models;
	/// Operators, payer escrow, signed usage proofs, disputes and settlement.
	#[runtime::pallet_index(52)]
	pub type Usage = pallet_usage;
	/// The fee-split policy, datanet reward pools and claims.
	#[runtime::pallet_index(53)]
	pub type Attribution = pallet_attribution;
	/// On-chain inference jobs: requested by wallets and contracts, fulfilled by operators.
	#[runtime::pallet_index(54)]
	pub type Jobs = pallet_jobs;

	// --- Smart contracts (60–69). ---
	/// EVM and PolkaVM smart contracts.
	#[runtime::pallet_index(60)]
	pub type Revive = pallet_revive;
}

cumulus_pallet_parachain_system::register_validate_block! {
	Runtime = Runtime,
	BlockExecutor = cumulus_pallet_aura_ext::BlockExecutor::<Runtime, Executive>,
}
