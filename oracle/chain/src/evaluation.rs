//! An adapter's evaluation: what its training run measured on its held-out split, base model
//! against adapter, as the adapter's author posts it (`Models::post_evaluation`) and as the
//! `LineageApi` runtime API reads it back.

use subxt_signer::sr25519::Keypair;

use super::{lineage, rpc_err, submit_and_finalize, ChainError, LineageClient};

/// An evaluation as the runtime stores it (`pallet_models::Evaluation`): the sha-256 of the
/// training manifest, the held-out records and answer tokens scored, the tokens trained on, and
/// for the base model and for the adapter the mean loss per answer token (micro-nats), the token
/// accuracy and the exact-match share.
pub use lineage::runtime_types::pallet_models::Evaluation;

/// The evaluation of `adapter` at the latest finalized block, read through the `LineageApi`
/// runtime API; `None` when the adapter is not registered or its author has posted none.
pub async fn adapter_evaluation(
	client: &LineageClient,
	adapter: u32,
) -> Result<Option<Evaluation>, ChainError> {
	let at = client.at_current_block().await.map_err(rpc_err)?;
	at.runtime_apis()
		.call(lineage::runtime_apis().lineage_api().adapter_evaluation(adapter))
		.await
		.map_err(rpc_err)
}

/// Posts `evaluation` for `adapter`, signed by `signer` (the adapter's author, whose account
/// pays the runtime's `EvaluationDeposit`), and waits until it is in a finalized block with its
/// `EvaluationPosted` event. A refusal on chain is a [`ChainError::Dispatch`] that names the
/// pallet's error (`NotAuthor`, `AlreadyEvaluated`, `EmptyEvaluation`, …).
pub async fn post_evaluation(
	client: &LineageClient,
	signer: &Keypair,
	adapter: u32,
	evaluation: Evaluation,
) -> Result<(), ChainError> {
	let call = lineage::tx().models().post_evaluation(adapter, evaluation);
	let done = submit_and_finalize(client, &call, signer).await?;
	let event = done
		.events
		.find_first::<lineage::models::events::EvaluationPosted>()
		.ok_or_else(|| ChainError::Rpc("no EvaluationPosted event".into()))?
		.map_err(rpc_err)?;
	if event.adapter != adapter {
		return Err(ChainError::Rpc(
			format!("EvaluationPosted names adapter {}, not {adapter}", event.adapter).into(),
		));
	}
	Ok(())
}
