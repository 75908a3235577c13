//! The runtime API through which wallets and clients read what an account may claim and the
//! fee-split policy.
//!
//! The runtime implements it by calling [`crate::Pallet::pending_rewards`] and
//! [`crate::Pallet::policy`]:
//!
//! ```ignore
//! impl pallet_attribution::runtime_api::AttributionApi<Block, AccountId, Balance> for Runtime {
//!     fn pending_rewards(who: AccountId) -> PendingRewards<Balance> {
//!         Attribution::pending_rewards(&who)
//!     }
//!     fn policy() -> FeePolicy {
//!         Attribution::policy()
//!     }
//! }
//! ```

use crate::{FeePolicy, PendingRewards};
use codec::Codec;

polkadot_sdk::sp_api::decl_runtime_apis! {
	/// Reads pending rewards and the fee-split policy.
	pub trait AttributionApi<AccountId, Balance> where
		AccountId: Codec,
		Balance: Codec,
	{
		/// What `who` may claim now: per datanet version it has frozen weight in (those with
		/// something to claim, ascending by datanet then version), what a claim of that
		/// version would pay, and its credits as adapter author, base-model owner and
		/// operator.
		fn pending_rewards(who: AccountId) -> PendingRewards<Balance>;

		/// The fee-split policy in force.
		fn policy() -> FeePolicy;
	}
}
