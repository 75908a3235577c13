//! What the oracle's chain side fails with: the chain client's errors, and the journal's.

use crate::journal::JournalError;

/// The chain client's own error, as [`lineage_chain`] reports it.
pub use lineage_chain::ChainError as ClientError;

/// Everything the oracle's chain side can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
	/// Talking to the node failed (connection, pool, dispatch, reads).
	#[error(transparent)]
	Client(#[from] ClientError),
	/// The usage journal failed.
	#[error("usage journal: {0}")]
	Journal(#[from] JournalError),
	/// Something the journal holds does not decode (a corrupt answer, say).
	#[error("usage journal: {0}")]
	Corrupt(String),
	/// The chain's state does not allow this oracle to run as configured.
	#[error("{0}")]
	Setup(String),
}

impl ChainError {
	/// The chain's dispatch error (an extrinsic included and failed), by name, if that is what
	/// this is.
	pub fn dispatch(&self) -> Option<&str> {
		match self {
			ChainError::Client(ClientError::Dispatch(m)) => Some(m),
			_ => None,
		}
	}
}
