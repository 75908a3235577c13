//! Serving adapters by name: import a PEFT folder into the store, load it (which validates it
//! against the base model) and name it; stop serving a name.

use std::path::PathBuf;

use lineage_adapters::{store::check_name, StoreError};
use lineage_primitives::Hash;

use super::{
	error::InferError,
	state::{blocking, Infer},
};

impl Infer {
	/// Imports `path` into the store, loads it, then serves it as `name`; returns its artifact
	/// hash. A refused adapter leaves nothing behind.
	pub async fn load_adapter(&self, name: &str, path: PathBuf) -> Result<Hash, InferError> {
		let _serialised = self.adapter_ops().lock().await;
		check_name(name)?;
		if name == self.model().id || self.store().hash_of(name).is_some() {
			return Err(InferError::AdapterExists(name.to_string()));
		}
		let store = self.store().clone();
		let hash = blocking(move || store.import_dir(&path)).await??;
		let key = hex::encode(hash.0);
		if let Err(e) = self.cache().load(&key).await {
			self.cache().unload(&key);
			let store = self.store().clone();
			// Nothing else points at bytes that never loaded; a failure to delete is only logged.
			if let Ok(Err(gc)) = blocking(move || store.remove_unreferenced(&hash)).await {
				tracing::warn!(error = %gc, "could not remove a refused adapter from the store");
			}
			return Err(e.into());
		}
		let store = self.store().clone();
		let owned = name.to_string();
		blocking(move || store.set_name(&owned, hash)).await??;
		tracing::info!(adapter = %name, hash = %key, "adapter loaded");
		Ok(hash)
	}

	/// Stops serving `name` (requests naming it are refused from now on) and drops it from
	/// memory unless another name serves the same bytes; returns its artifact hash. The files
	/// stay in the content-addressed store, so loading it again is cheap.
	pub async fn unload_adapter(&self, name: &str) -> Result<Hash, InferError> {
		let _serialised = self.adapter_ops().lock().await;
		let store = self.store().clone();
		let owned = name.to_string();
		let removed = blocking(move || store.remove_name(&owned)).await??;
		let Some(hash) = removed else {
			return Err(StoreError::UnknownAdapter(name.to_string()).into());
		};
		if !self.store().names().iter().any(|(_, h)| *h == hash) {
			self.cache().unload(&hex::encode(hash.0));
		}
		tracing::info!(adapter = %name, "adapter unloaded");
		Ok(hash)
	}
}
