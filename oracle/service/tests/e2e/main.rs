//! End-to-end tests: the real Lineage runtime wasm on a real `polkadot-omni-node` (dev mode,
//! loopback), reached with the oracle's subxt client. Each test starts its own node.
//! They need `scripts/setup` (the node) and `scripts/chain-spec` (the dev spec); `scripts/test`
//! runs both first.

/// Submits with `submit_and_finalize` and fails the test with the node's log when the extrinsic
/// fails.
macro_rules! submit {
	($node:expr, $client:expr, $call:expr, $signer:expr) => {
		match lineage_chain::submit_and_finalize(&$client, &$call, $signer).await {
			Ok(done) => done,
			Err(e) => panic!("{} failed: {e}\nnode log:\n{}", stringify!($call), $node.log_tail()),
		}
	};
}

mod contracts;
mod node;
mod oracle;
mod registry;
mod transfer;
mod usage;

use lineage_chain::{
	lineage::{
		self,
		runtime_types::{
			bounded_collections::bounded_vec::BoundedVec, pallet_balances::types::AccountData,
		},
	},
	LineageClient,
};
use subxt::{config::substrate::H256, utils::AccountId32};
use subxt_signer::sr25519::Keypair;

/// A bounded byte string of the generated client types.
pub fn bytes(s: &str) -> BoundedVec<u8> {
	BoundedVec(s.as_bytes().to_vec())
}

/// The account of a dev key.
pub fn id(k: &Keypair) -> AccountId32 {
	k.public_key().into()
}

/// One LIN (10 decimals).
pub const UNIT: u128 = 10_000_000_000;

/// `who`'s balances (free, reserved, frozen) in the state of `block`.
pub async fn account_data(
	client: &LineageClient,
	block: H256,
	who: &AccountId32,
) -> AccountData<u128> {
	let at = client.at_block(block).await.expect("block not found");
	at.storage()
		.fetch(lineage::storage().system().account(), (*who,))
		.await
		.expect("cannot read System::Account")
		.decode()
		.expect("cannot decode AccountInfo")
		.data
}
