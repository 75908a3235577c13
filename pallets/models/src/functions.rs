//! The pallet's checks, its read API and its invariants.

use super::*;
use alloc::collections::BTreeSet;
use frame_support::{ensure, pallet_prelude::DispatchResult, traits::Get};

impl<T: Config> Pallet<T> {
	/// The lineage of `adapter`: the adapter, its base model and every ancestor up to its root
	/// adapter, each with its training lineage. `None` when the adapter is not registered.
	///
	/// Reads `depth + 2` records (at most `MaxLineageDepth + 2`).
	pub fn lineage(adapter: AdapterId) -> Option<AdapterLineageOf<T>> {
		let info = Adapters::<T>::get(adapter)?;
		let model = Models::<T>::get(info.base_model)?;
		let now = frame_system::Pallet::<T>::block_number();
		let mut ancestors = Vec::with_capacity((info.depth as usize).saturating_add(1));
		ancestors.push(Self::node(adapter, &info));
		let mut next = info.parent;
		for _ in 0..T::MaxLineageDepth::get() {
			let Some(id) = next else { break };
			let ancestor = Adapters::<T>::get(id)?;
			ancestors.push(Self::node(id, &ancestor));
			next = ancestor.parent;
		}
		if next.is_some() {
			// A chain longer than `MaxLineageDepth`: `do_try_state` rules it out.
			return None;
		}
		Some(AdapterLineage {
			adapter,
			base_model: info.base_model,
			base_model_owner: model.owner,
			base_model_artifact: model.artifact_hash,
			price: info.price_at(now).unwrap_or(info.price),
			status: info.status,
			ancestors,
		})
	}

	/// The price of `adapter` in force at `block`; `None` when the adapter is not registered or
	/// was registered after `block`.
	///
	/// Exact for every block at most [`Config::PriceChangeDelay`] blocks before the current one
	/// and for every later block (a price set now takes effect at `now + PriceChangeDelay`);
	/// for older blocks it answers with the oldest price it keeps. Usage pallets call it with
	/// a batch's block, and should accept batches no older than `PriceChangeDelay`.
	pub fn price_at(adapter: AdapterId, block: BlockNumberFor<T>) -> Option<PriceOf<T>> {
		Adapters::<T>::get(adapter)?.price_at(block)
	}

	/// A lineage node for `adapter`.
	fn node(adapter: AdapterId, info: &AdapterInfo<T>) -> LineageNode<T::AccountId> {
		LineageNode {
			adapter,
			author: info.author.clone(),
			artifact_hash: info.artifact_hash,
			rank: info.rank,
			training: info.training.to_vec(),
			status: info.status,
		}
	}

	/// Checks that there is at least one target module and that no name repeats.
	pub(crate) fn ensure_target_modules(modules: &TargetModulesOf<T>) -> DispatchResult {
		ensure!(!modules.is_empty(), Error::<T>::NoTargetModules);
		let mut seen = BTreeSet::new();
		for module in modules.iter() {
			ensure!(seen.insert(module.as_slice()), Error::<T>::DuplicateTargetModule);
		}
		Ok(())
	}

	/// Checks that the training versions are distinct and frozen and that their attribution
	/// weights sum to exactly 100%.
	pub(crate) fn ensure_training(training: &TrainingOf<T>) -> DispatchResult {
		let mut seen = BTreeSet::new();
		for (version, _) in training.iter() {
			ensure!(seen.insert(*version), Error::<T>::DuplicateVersion);
			ensure!(T::Datanets::is_frozen_version(version), Error::<T>::UnknownVersion);
		}
		ensure!(Self::weights_full(training), Error::<T>::WeightsNotFull);
		Ok(())
	}

	/// Whether the attribution weights sum to exactly `Perbill::one()` (false for none).
	pub(crate) fn weights_full(training: &[(DatanetVersionRef, Perbill)]) -> bool {
		training
			.iter()
			.try_fold(0u32, |sum, (_, weight)| sum.checked_add(weight.deconstruct()))
			.is_some_and(|sum| sum == Perbill::one().deconstruct())
	}

	/// The depth of a new adapter on `base_model` under `parent`.
	pub(crate) fn child_depth(
		base_model: ModelId,
		parent: Option<AdapterId>,
	) -> Result<u32, Error<T>> {
		let Some(parent) = parent else { return Ok(0) };
		let info = Adapters::<T>::get(parent).ok_or(Error::<T>::UnknownParent)?;
		ensure!(info.base_model == base_model, Error::<T>::ParentOnOtherBase);
		ensure!(info.status != AdapterStatus::Revoked, Error::<T>::ParentRevoked);
		let depth = info.depth.checked_add(1).ok_or(Error::<T>::LineageTooDeep)?;
		ensure!(depth <= T::MaxLineageDepth::get(), Error::<T>::LineageTooDeep);
		Ok(depth)
	}

	/// The pallet's invariants:
	/// - ids are below `NextModelId` / `NextAdapterId`;
	/// - `ArtifactIndex` and the artifact hashes of `Models` and `Adapters` agree both ways;
	/// - every adapter's base model exists; its parent exists, has a smaller id, is on the same
	///   base model, and `depth = parent.depth + 1 ≤ MaxLineageDepth` (0 without a parent);
	/// - every adapter's rank is in range, its target modules are distinct and at least one,
	///   its training versions are distinct and their weights sum to 100%;
	/// - a previous price ends before a scheduled one starts;
	/// - every evaluation is of a registered adapter and scored at least one held-out record
	///   and one answer token;
	/// - each account's held deposits equal the deposits its records name, and its evaluation
	///   deposits [`Config::EvaluationDeposit`] for each evaluation of its adapters (an
	///   evaluation names no deposit: a runtime that changes `EvaluationDeposit` migrates the
	///   holds).
	#[cfg(any(feature = "try-runtime", test))]
	pub fn do_try_state() -> Result<(), polkadot_sdk::sp_runtime::TryRuntimeError> {
		use alloc::collections::BTreeMap;
		use frame_support::traits::fungible::InspectHold;
		use polkadot_sdk::sp_runtime::traits::Saturating;

		let mut model_deposits = BTreeMap::<T::AccountId, BalanceOf<T>>::new();
		let mut adapter_deposits = BTreeMap::<T::AccountId, BalanceOf<T>>::new();
		let mut evaluation_deposits = BTreeMap::<T::AccountId, BalanceOf<T>>::new();

		let next_model = NextModelId::<T>::get();
		for (id, model) in Models::<T>::iter() {
			ensure!(id < next_model, "a model id is not below NextModelId");
			ensure!(
				ArtifactIndex::<T>::get(model.artifact_hash) == Some(ArtifactOwner::Model(id)),
				"a model's artifact hash is not indexed to it"
			);
			model_deposits.entry(model.owner).or_default().saturating_accrue(model.deposit);
		}

		let next_adapter = NextAdapterId::<T>::get();
		for (id, adapter) in Adapters::<T>::iter() {
			ensure!(id < next_adapter, "an adapter id is not below NextAdapterId");
			ensure!(
				ArtifactIndex::<T>::get(adapter.artifact_hash) == Some(ArtifactOwner::Adapter(id)),
				"an adapter's artifact hash is not indexed to it"
			);
			ensure!(Models::<T>::contains_key(adapter.base_model), "an adapter's model is missing");
			match adapter.parent {
				None => ensure!(adapter.depth == 0, "a root adapter's depth is not 0"),
				Some(parent_id) => {
					ensure!(parent_id < id, "an adapter's parent is not older than it");
					let parent =
						Adapters::<T>::get(parent_id).ok_or("an adapter's parent is missing")?;
					ensure!(
						parent.base_model == adapter.base_model,
						"an adapter's parent is on another base model"
					);
					ensure!(
						parent.depth.checked_add(1) == Some(adapter.depth),
						"an adapter's depth is not its parent's depth + 1"
					);
				},
			}
			ensure!(adapter.depth <= T::MaxLineageDepth::get(), "an adapter is too deep");
			ensure!(
				adapter.rank > 0 && adapter.rank <= T::MaxRank::get(),
				"an adapter's rank is out of range"
			);
			ensure!(
				Self::ensure_target_modules(&adapter.target_modules).is_ok(),
				"an adapter's target modules are empty or repeat"
			);
			let versions: BTreeSet<_> = adapter.training.iter().map(|(v, _)| *v).collect();
			ensure!(
				versions.len() == adapter.training.len(),
				"an adapter's training versions repeat"
			);
			ensure!(
				Self::weights_full(&adapter.training),
				"an adapter's attribution weights do not sum to 100%"
			);
			if let (Some((since, _)), Some((effective_at, _))) =
				(adapter.previous_price, adapter.next_price)
			{
				ensure!(since < effective_at, "an adapter's price history is out of order");
			}
			adapter_deposits.entry(adapter.author).or_default().saturating_accrue(adapter.deposit);
		}

		for (id, evaluation) in Evaluations::<T>::iter() {
			let adapter = Adapters::<T>::get(id).ok_or("an evaluation's adapter is missing")?;
			ensure!(
				evaluation.heldout_records > 0 && evaluation.heldout_tokens > 0,
				"an evaluation scored nothing"
			);
			evaluation_deposits
				.entry(adapter.author)
				.or_default()
				.saturating_accrue(T::EvaluationDeposit::get());
		}

		for (hash, owner) in ArtifactIndex::<T>::iter() {
			let registered = match owner {
				ArtifactOwner::Model(id) => Models::<T>::get(id).map(|m| m.artifact_hash),
				ArtifactOwner::Adapter(id) => Adapters::<T>::get(id).map(|a| a.artifact_hash),
			};
			ensure!(registered == Some(hash), "an indexed artifact hash has no matching record");
		}

		for (reason, deposits) in [
			(HoldReason::ModelDeposit, model_deposits),
			(HoldReason::AdapterDeposit, adapter_deposits),
			(HoldReason::EvaluationDeposit, evaluation_deposits),
		] {
			for (who, deposit) in deposits {
				ensure!(
					T::Currency::balance_on_hold(&reason.into(), &who) == deposit,
					"an account's held deposits differ from its records' deposits"
				);
			}
		}
		Ok(())
	}
}
