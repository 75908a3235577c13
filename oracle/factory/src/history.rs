//! What each optimiser step of a run did: the entries of the loss curve, the checkpoint and the
//! manifest.

use serde::{Deserialize, Serialize};

/// What one optimiser step did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepLog {
	/// The step, from 1.
	pub step: usize,
	/// Mean loss per answer token of the step's examples (before the update).
	pub loss: f64,
	/// The learning rate used.
	pub learning_rate: f64,
	/// The global gradient norm before clipping.
	pub grad_norm: f64,
	/// Tokens fed (prompts and answers).
	pub tokens: u64,
	/// Answer tokens scored.
	pub answer_tokens: u64,
}
