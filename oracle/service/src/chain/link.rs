//! The current connection to the node, shared by the registry sync, the gate, the proof loop
//! and the job runner, and replaced when the sync task reconnects.

use std::sync::RwLock;

use lineage_chain::LineageClient;

/// The current connection to the node, replaced when the sync task reconnects.
#[derive(Default)]
pub struct ChainLink {
	client: RwLock<Option<LineageClient>>,
}

impl ChainLink {
	/// The client, while connected.
	pub fn client(&self) -> Option<LineageClient> {
		self.client.read().unwrap_or_else(|e| e.into_inner()).clone()
	}

	/// Sets the client (`None` while disconnected).
	pub fn set(&self, client: Option<LineageClient>) {
		*self.client.write().unwrap_or_else(|e| e.into_inner()) = client;
	}
}
