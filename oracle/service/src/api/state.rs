//! What every handler shares: the inference layer, the payer check and the body limit.

use std::sync::Arc;

use super::{admin::AdminAccess, listen::ConnectionLimits, payer::PayerAuth};
use crate::{infer::Infer, journal::Journal};

/// The server's state: the inference layer, the payer check, the body limit.
#[derive(Clone)]
pub struct AppState {
	/// The inference layer the handlers call.
	pub infer: Infer,
	/// When set, generation requests must be signed by their payer.
	pub payer_auth: Option<PayerAuth>,
	/// The largest request body, in bytes.
	pub max_body_bytes: usize,
	/// Who may load and unload adapters.
	pub admin: AdminAccess,
	/// The usage journal (chain mode): what `GET /v1/usage/{id}` reads.
	pub journal: Option<Arc<Journal>>,
	/// The header read timeout and the most connections at once.
	pub connections: ConnectionLimits,
}

impl AppState {
	/// The inference layer.
	pub fn infer(&self) -> &Infer {
		&self.infer
	}
}
