//! Merging an adapter into the base weights: the reference the unmerged path is tested against,
//! and the naive server of the benchmark.

use super::{error::ModelError, lora::LoraAdapter, model::Model};

impl LoraAdapter {
	/// The base model with this adapter merged into its weights (`W' = W + scale·B·A` for each
	/// target): the reference the unmerged path is tested against, and the naive server of the
	/// benchmark.
	pub fn merged_into(&self, model: &Model) -> Result<Model, ModelError> {
		self.check_compatible(&model.config).map_err(|e| ModelError::Input(e.to_string()))?;
		Ok(model.with_deltas(|layer, proj| self.delta(layer, proj))?)
	}
}
