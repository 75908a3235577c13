//! Smart contracts: pallet-revive, configured as in the crates.io `revive-dev-runtime`.
//!
//! - Accounts are `AccountId32`; each is mapped to an H160 address (`AccountId32Mapper`), and
//!   `AutoMap` with the `AutoMapper` system hooks maps new accounts as they appear, so a
//!   wallet user can call contracts without a separate `map_account` step.
//! - LIN has 10 decimals; Ethereum clients see 18, so `NativeToEthRatio` is `10^8`.
//! - EVM bytecode (npm `solc`) and PolkaVM bytecode (`resolc`, ink! 6) are both accepted.
//! - `Precompiles` holds the Lineage precompile (`crate::precompiles`), through which contracts
//!   request completions, read jobs, escrow, lineage and rewards.

#![warn(missing_docs)]

use crate::{
	currency::deposit, Address, Balance, Balances, EthExtraImpl, Runtime, RuntimeCall,
	RuntimeEvent, RuntimeHoldReason, RuntimeOrigin, Signature, Timestamp, EVM_CHAIN_ID,
};
use polkadot_sdk::{
	frame_support::{
		parameter_types,
		traits::{ConstBool, ConstU32, ConstU64},
	},
	frame_system::EnsureSigned,
	sp_runtime::{FixedU128, Perbill},
	*,
};

parameter_types! {
	/// The deposit for each storage item a contract creates.
	pub const DepositPerItem: Balance = deposit(1, 0);
	/// The deposit for each child-trie item a contract creates.
	pub const DepositPerChildTrieItem: Balance = deposit(1, 0) / 100;
	/// The deposit for each byte a contract stores.
	pub const DepositPerByte: Balance = deposit(0, 1);
	/// The share of a code's deposit locked by each contract that uses the code.
	pub CodeHashLockupDepositPercent: Perbill = Perbill::from_percent(30);
	/// The share of a block's weight one Ethereum transaction may use.
	pub const MaxEthExtrinsicWeight: FixedU128 = FixedU128::from_rational(9, 10);
}

impl pallet_revive::Config for Runtime {
	type Time = Timestamp;
	type Balance = Balance;
	type Currency = Balances;
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type RuntimeOrigin = RuntimeOrigin;
	type DepositPerItem = DepositPerItem;
	type DepositPerChildTrieItem = DepositPerChildTrieItem;
	type DepositPerByte = DepositPerByte;
	type WeightInfo = pallet_revive::weights::SubstrateWeight<Self>;
	type Precompiles = (crate::precompiles::LineagePrecompile,);
	type AddressMapper = pallet_revive::AccountId32Mapper<Self>;
	type RuntimeMemory = ConstU32<{ 128 * 1024 * 1024 }>;
	type PVFMemory = ConstU32<{ 512 * 1024 * 1024 }>;
	type AllowEVMBytecode = ConstBool<true>;
	type UploadOrigin = EnsureSigned<Self::AccountId>;
	type InstantiateOrigin = EnsureSigned<Self::AccountId>;
	type RuntimeHoldReason = RuntimeHoldReason;
	type CodeHashLockupDepositPercent = CodeHashLockupDepositPercent;
	type ChainId = ConstU64<EVM_CHAIN_ID>;
	// 10^(18 - 10): Ethereum's unit has 18 decimals, LIN has 10.
	type NativeToEthRatio = ConstU32<100_000_000>;
	type FindAuthor = <Runtime as pallet_authorship::Config>::FindAuthor;
	type FeeInfo = pallet_revive::evm::fees::Info<Address, Signature, EthExtraImpl>;
	type MaxEthExtrinsicWeight = MaxEthExtrinsicWeight;
	type DebugEnabled = ConstBool<false>;
	type AutoMap = ConstBool<true>;
	type GasScale = ConstU32<50_000>;
	type OnBurn = ();
	type Deposit = ();
}
