//! The runtime API through which the oracle and clients read an adapter's lineage, price and
//! evaluation.
//!
//! The runtime implements it by calling [`crate::Pallet::lineage`] and
//! [`crate::Pallet::price_at`] and by reading [`crate::Evaluations`]:
//!
//! ```ignore
//! impl pallet_models::runtime_api::LineageApi<Block, AccountId, Balance> for Runtime {
//!     fn adapter_lineage(adapter: AdapterId) -> Option<AdapterLineage<AccountId, Balance>> {
//!         Models::lineage(adapter)
//!     }
//!     fn price_at(adapter: AdapterId, block: u32) -> Option<Price<Balance>> {
//!         Models::price_at(adapter, block)
//!     }
//!     fn adapter_evaluation(adapter: AdapterId) -> Option<Evaluation> {
//!         pallet_models::Evaluations::<Runtime>::get(adapter)
//!     }
//! }
//! ```

use crate::{AdapterLineage, Evaluation, Price};
use codec::Codec;
use lineage_primitives::AdapterId;

polkadot_sdk::sp_api::decl_runtime_apis! {
	/// Reads an adapter's lineage, its price and its evaluation.
	pub trait LineageApi<AccountId, Balance> where
		AccountId: Codec,
		Balance: Codec,
	{
		/// The adapter, its base model (and the model's owner and artifact hash), its current
		/// price and status, and every ancestor from the adapter itself up to its root adapter,
		/// each with its training lineage. `None` when the adapter is not registered.
		fn adapter_lineage(adapter: AdapterId) -> Option<AdapterLineage<AccountId, Balance>>;

		/// The adapter's price in force at `block`; `None` when the adapter is not registered
		/// or was registered after `block`.
		fn price_at(adapter: AdapterId, block: u32) -> Option<Price<Balance>>;

		/// The evaluation the adapter's author posted (held-out metrics of the base model and
		/// of the adapter, and the training manifest's hash); `None` when the adapter is not
		/// registered or has none yet.
		fn adapter_evaluation(adapter: AdapterId) -> Option<Evaluation>;
	}
}
