//! The pallets whose benchmarks `frame-omni-bencher` runs against this runtime
//! (`scripts/bench`). A pallet's benchmarks run only once it is listed here.

#![warn(missing_docs)]

use polkadot_sdk::*;

#[allow(unused_imports)]
pub use crate::*;

frame_benchmarking::define_benchmarks!(
	[frame_system, SystemBench::<Runtime>]
	[frame_system_extensions, SystemExtensionsBench::<Runtime>]
	[pallet_balances, Balances]
	[pallet_session, SessionBench::<Runtime>]
	[pallet_timestamp, Timestamp]
	[pallet_message_queue, MessageQueue]
	[pallet_sudo, Sudo]
	[pallet_collator_selection, CollatorSelection]
	[cumulus_pallet_parachain_system, ParachainSystem]
	[cumulus_pallet_xcmp_queue, XcmpQueue]
	[cumulus_pallet_weight_reclaim, WeightReclaim]
	[pallet_utility, Utility]
	[pallet_multisig, Multisig]
	[pallet_proxy, Proxy]
	[pallet_datanets, Datanets]
	[pallet_models, Models]
	[pallet_usage, Usage]
	[pallet_jobs, Jobs]
	[pallet_attribution, Attribution]
);
