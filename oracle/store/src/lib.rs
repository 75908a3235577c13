//! # Lineage record store
//!
//! The bytes of a datanet's records, off chain and content-addressed. A datanet's owner runs
//! it (`lineage-store serve`); contributors upload to it from their wallets, curators read the
//! pending records before they accept them, and operators and trainers read frozen versions
//! from it, checking every byte against the chain.
//!
//! - A record is at most the chain's `MaxRecordBytes` (256 KiB: one IPFS block). Its name is the
//!   sha-256 of its bytes — the content hash its contribution puts on chain — and its IPFS
//!   CIDv1 (raw codec, sha2-256; [`cid`]), so any IPFS node can pin and serve the same bytes,
//!   and the store serves them on the gateway path `GET /ipfs/{cid}`.
//! - An upload is signed by the contributor's wallet key over (domain, genesis hash, datanet,
//!   sha-256) ([`lineage_chain::record`]); it is kept only if the matching contribution
//!   appears on chain within the upload window ([`sweeper`]), and only records whose
//!   contribution is on chain are served. A contribution rejected as bad data, or withdrawn,
//!   takes its bytes out of the store.
//! - Everything is in an embedded database (redb, [`db`]); nothing is held only in memory.
//! - For a frozen version the store lists the records in order with their Merkle proofs
//!   against the on-chain root; [`client::StoreClient`] reads a version and refuses any record
//!   that does not verify, naming it.
//!
//! The HTTP API is in [`api`]. Token counts: with `--tokenizer` (the base model's), the store
//! measures each record's tokens and shows them to curators, who set the count the chain
//! weighs the record by when they accept it.

pub mod api;
pub mod chain;
pub mod cid;
pub mod client;
pub mod db;
pub mod error;
pub mod metrics;
pub mod state;
pub mod sweeper;
pub mod tokens;

use anyhow::Context;
use state::StoreState;
use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

/// How a store runs.
#[derive(Clone, Debug, clap::Args)]
pub struct ServeArgs {
	/// The Lineage node's RPC endpoint.
	#[arg(long, default_value = "ws://127.0.0.1:9944", env = "LINEAGE_CHAIN_URL")]
	pub chain_url: String,
	/// The database file (created if absent).
	#[arg(long, default_value = "lineage-store.redb")]
	pub db: PathBuf,
	/// The address to listen on.
	#[arg(long, default_value = "127.0.0.1")]
	pub host: String,
	/// The port to listen on (0: any free port, printed at start).
	#[arg(long, default_value_t = 8100)]
	pub port: u16,
	/// How long an upload waits for its contribution on chain, in seconds.
	#[arg(long, default_value_t = 600)]
	pub window_secs: u64,
	/// How often the sweeper reconciles with the chain, in milliseconds.
	#[arg(long, default_value_t = 2000)]
	pub sweep_ms: u64,
	/// The base model's tokenizer (`tokenizer.json`, or a GGUF model file) to measure records.
	#[arg(long)]
	pub tokenizer: Option<PathBuf>,
}

/// Connects to the chain, opens the database, binds, and serves until the process ends.
/// Prints `listening on http://ADDR` once it accepts requests.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
	let client = lineage_chain::connect(&args.chain_url).await?;
	let chain = chain::ChainView::new(client);
	let max_record_bytes =
		chain.max_record_bytes().await.context("reading Datanets::MaxRecordBytes")?;
	let tokens = args.tokenizer.as_deref().map(tokens::TokenCounter::load).transpose()?;
	let db = db::Db::open(&args.db)?;
	let state = Arc::new(StoreState {
		db,
		chain,
		max_record_bytes,
		window: Duration::from_secs(args.window_secs),
		tokens,
		metrics: metrics::Metrics::new()?,
		versions: Default::default(),
	});
	let addr: SocketAddr = format!("{}:{}", args.host, args.port)
		.parse()
		.with_context(|| format!("bad listen address {}:{}", args.host, args.port))?;
	let listener = tokio::net::TcpListener::bind(addr)
		.await
		.with_context(|| format!("cannot listen on {addr}: is the port taken?"))?;
	let local = listener.local_addr()?;
	tokio::spawn(sweeper::run(state.clone(), Duration::from_millis(args.sweep_ms.max(100))));
	println!("listening on http://{local}");
	tracing::info!(%local, max_record_bytes, db = %args.db.display(), "record store serving");
	axum::serve(listener, api::router(state)).await.context("HTTP server failed")
}
