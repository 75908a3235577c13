//! `lineage-oracle operator register`: bond and register the operator key on chain.

use subxt::utils::AccountId32;
use subxt_signer::sr25519::Keypair;

use super::{
	free_balance,
	keys::account_of,
	lineage::{self, runtime_types::bounded_collections::bounded_vec::BoundedVec},
	operator_info, rpc_err, submit_and_finalize, ChainError, LineageClient,
};

/// What [`register`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Registration {
	/// The operator was registered in this block.
	Registered {
		/// The operator's account.
		operator: AccountId32,
		/// The bond held.
		bond: u128,
	},
	/// The key was already registered with this endpoint: nothing was sent.
	AlreadyRegistered {
		/// The operator's account.
		operator: AccountId32,
	},
}

/// Registers `key` as an operator serving at `endpoint`, its account bonding the runtime's
/// `OperatorBond` (1,000 LIN on Lineage) and its public key signing batches. Idempotent: an
/// operator already registered with the same key is left as it is (a new endpoint is set).
pub async fn register(
	client: &LineageClient,
	key: &Keypair,
	endpoint: &str,
) -> Result<Registration, ChainError> {
	let operator = account_of(key);
	let at = client.at_current_block().await.map_err(rpc_err)?;
	if let Some(info) = operator_info(&at, operator).await? {
		if info.signing_key != key.public_key().0 {
			return Err(ChainError::Setup(format!(
				"{operator} is registered with another signing key: use Usage::rotate_key"
			)));
		}
		if info.endpoint.0 != endpoint.as_bytes() {
			let call = lineage::tx().usage().set_endpoint(BoundedVec(endpoint.as_bytes().to_vec()));
			submit_and_finalize(client, &call, key).await?;
		}
		return Ok(Registration::AlreadyRegistered { operator });
	}
	let bond =
		at.constants().entry(lineage::constants().usage().operator_bond()).map_err(rpc_err)?;
	let free = free_balance(&at, operator).await?;
	if free <= bond {
		return Err(ChainError::Setup(format!(
			"{operator} has {free} free: the bond is {bond}, plus transaction fees; fund the \
			 account first (units of 10^-10 LIN)"
		)));
	}
	let call = lineage::tx()
		.usage()
		.register_operator(key.public_key().0, BoundedVec(endpoint.as_bytes().to_vec()));
	let done = submit_and_finalize(client, &call, key).await?;
	let event = done
		.events
		.find_first::<lineage::usage::events::OperatorRegistered>()
		.ok_or_else(|| ChainError::Rpc("no OperatorRegistered event".into()))?
		.map_err(rpc_err)?;
	Ok(Registration::Registered { operator, bond: event.bond })
}
