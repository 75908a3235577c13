//! The sweeper: a background task that reconciles the store with the chain.
//!
//! Every interval it reads each placement's contribution from the chain:
//! - an upload whose contribution appeared (by the same contributor, of the same size) becomes
//!   *contributed* and is served from then on;
//! - an upload still without a contribution after its window is dropped;
//! - a contributed record whose contribution is gone (rejected as bad data, or withdrawn) is
//!   dropped;
//! - a contributed record in a frozen version is marked *frozen* and never checked again.
//!
//! The gateway does the first check at once for a record it is asked for ([`confirm`]), so a
//! record is served as soon as its contribution is on chain, not a sweep later.

use crate::{
	chain::ContributionState,
	db::{Placement, PlacementState},
	error::StoreError,
	state::AppState,
};
use futures::{stream, StreamExt};
use lineage_chain::{time::unix_time_ms, ChainError};
use std::time::Duration;

/// How many placements are checked against the chain at once.
const CONCURRENCY: usize = 16;

/// What one check changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
	/// Nothing.
	None,
	/// The upload's contribution appeared.
	Confirmed,
	/// The record is now in a frozen version.
	Frozen,
	/// The upload's window ended without a contribution: dropped.
	Expired,
	/// The record's contribution left the chain: dropped.
	Removed,
}

/// What one sweep changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
	/// Uploads whose contribution appeared.
	pub confirmed: u32,
	/// Records now in a frozen version.
	pub frozen: u32,
	/// Uploads dropped at the end of their window.
	pub expired: u32,
	/// Records dropped because their contribution left the chain.
	pub removed: u32,
}

/// Checks one placement against the chain and applies what changed.
pub async fn check(
	state: &AppState,
	datanet: u32,
	hash: [u8; 32],
	placement: Placement,
	now_ms: u64,
) -> Result<Change, StoreError> {
	let change = match placement.state {
		PlacementState::Contributed { frozen: true, .. } => Change::None,
		PlacementState::Uploaded { expires_ms } => {
			let found = state.chain.contribution_by_hash(datanet, &hash).await?;
			let size = state.db.meta(&hash)?.map(|m| m.size);
			match found {
				Some(c) if c.contributor == placement.contributor && Some(c.size) == size => {
					let frozen = is_frozen(state, datanet, &c.state).await?;
					state.db.set_state(
						datanet,
						&hash,
						PlacementState::Contributed { contribution: c.id, frozen },
					)?;
					Change::Confirmed
				},
				_ if now_ms > expires_ms => {
					state.db.remove(datanet, &hash)?;
					Change::Expired
				},
				_ => Change::None,
			}
		},
		PlacementState::Contributed { contribution, frozen: false } => {
			match state.chain.contribution(datanet, contribution).await? {
				Some(c) if c.content_hash == hash => {
					if is_frozen(state, datanet, &c.state).await? {
						state.db.set_state(
							datanet,
							&hash,
							PlacementState::Contributed { contribution, frozen: true },
						)?;
						Change::Frozen
					} else {
						Change::None
					}
				},
				_ => {
					state.db.remove(datanet, &hash)?;
					Change::Removed
				},
			}
		},
	};
	let label = match change {
		Change::None => return Ok(change),
		Change::Confirmed => "confirmed",
		Change::Frozen => "frozen",
		Change::Expired => "expired",
		Change::Removed => "removed",
	};
	state.metrics.swept(label);
	Ok(change)
}

/// Checks the uploads of `hash` that wait for their contribution; returns whether the record
/// is served now.
pub async fn confirm(state: &AppState, hash: [u8; 32]) -> Result<bool, StoreError> {
	let now = unix_time_ms();
	for (datanet, placement) in state.db.placements_of(&hash)? {
		if matches!(placement.state, PlacementState::Uploaded { .. }) {
			check(state, datanet, hash, placement, now).await?;
		}
	}
	Ok(state.db.is_contributed(&hash)?)
}

/// One pass over every placement.
pub async fn sweep(state: &AppState) -> Result<SweepReport, StoreError> {
	let now = unix_time_ms();
	let placements = state.db.placements()?;
	let changes: Vec<Result<Change, StoreError>> = stream::iter(placements)
		.map(|(datanet, hash, placement)| check(state, datanet, hash, placement, now))
		.buffer_unordered(CONCURRENCY)
		.collect()
		.await;
	let mut report = SweepReport::default();
	for change in changes {
		match change? {
			Change::None => {},
			Change::Confirmed => report.confirmed += 1,
			Change::Frozen => report.frozen += 1,
			Change::Expired => report.expired += 1,
			Change::Removed => report.removed += 1,
		}
	}
	Ok(report)
}

async fn is_frozen(
	state: &AppState,
	datanet: u32,
	contribution: &ContributionState,
) -> Result<bool, ChainError> {
	let ContributionState::Accepted { version, .. } = contribution else { return Ok(false) };
	let count = state.chain.datanet(datanet).await?.map_or(0, |d| d.version_count);
	Ok(*version <= count)
}

/// Sweeps every `interval` until the process ends; errors are logged and retried.
pub async fn run(state: AppState, interval: Duration) {
	loop {
		tokio::time::sleep(interval).await;
		match sweep(&state).await {
			Ok(r) if r != SweepReport::default() => tracing::info!(?r, "swept"),
			Ok(_) => {},
			Err(e) => tracing::warn!(error = %e, "sweep failed; retrying"),
		}
	}
}
