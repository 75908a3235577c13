//! What the store's handlers and its sweeper share.

use crate::{
	chain::{ChainContribution, ChainVersion, ChainView},
	db::Db,
	metrics::Metrics,
	tokens::TokenCounter,
};
use std::{
	collections::HashMap,
	sync::{Arc, Mutex},
	time::Duration,
};

/// The record lists of frozen versions already read from the chain, by (datanet, version).
/// Frozen versions never change, so each is read once; the lists are the chain's, so losing
/// them loses nothing.
pub type VersionCache = Mutex<HashMap<(u32, u32), Arc<(ChainVersion, Vec<ChainContribution>)>>>;

/// The store's shared state.
pub struct StoreState {
	/// The database.
	pub db: Db,
	/// The chain.
	pub chain: ChainView,
	/// The largest record, in bytes (the chain's `MaxRecordBytes`).
	pub max_record_bytes: u32,
	/// How long an upload waits for its contribution on chain before it is dropped.
	pub window: Duration,
	/// Counts tokens with the base model's tokenizer, when the store has it.
	pub tokens: Option<TokenCounter>,
	/// Metrics.
	pub metrics: Metrics,
	/// Frozen versions' record lists.
	pub versions: VersionCache,
}

/// Shared state, as handlers and the sweeper hold it.
pub type AppState = Arc<StoreState>;
