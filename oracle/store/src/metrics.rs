//! The store's Prometheus metrics; every name starts with `lineage_store_`.

use prometheus::{Encoder, IntCounter, IntCounterVec, Opts, Registry, TextEncoder};

/// The counters the handlers and the sweeper update.
#[derive(Clone)]
pub struct Metrics {
	registry: Registry,
	uploads: IntCounterVec,
	uploaded_bytes: IntCounter,
	served: IntCounter,
	served_bytes: IntCounter,
	swept: IntCounterVec,
}

impl Metrics {
	/// Registers the counters.
	pub fn new() -> Result<Self, prometheus::Error> {
		let registry = Registry::new();
		let uploads = IntCounterVec::new(
			Opts::new(
				"lineage_store_uploads_total",
				"Uploads, by outcome (stored or the error code)",
			),
			&["outcome"],
		)?;
		let uploaded_bytes =
			IntCounter::new("lineage_store_uploaded_bytes_total", "Bytes of records stored")?;
		let served = IntCounter::new("lineage_store_served_total", "Records served")?;
		let served_bytes =
			IntCounter::new("lineage_store_served_bytes_total", "Bytes of records served")?;
		let swept = IntCounterVec::new(
			Opts::new(
				"lineage_store_swept_total",
				"Placements the sweeper changed: confirmed, frozen, expired or removed",
			),
			&["change"],
		)?;
		registry.register(Box::new(uploads.clone()))?;
		registry.register(Box::new(uploaded_bytes.clone()))?;
		registry.register(Box::new(served.clone()))?;
		registry.register(Box::new(served_bytes.clone()))?;
		registry.register(Box::new(swept.clone()))?;
		Ok(Metrics { registry, uploads, uploaded_bytes, served, served_bytes, swept })
	}

	/// Counts an upload's outcome.
	pub fn upload(&self, outcome: &str) {
		self.uploads.with_label_values(&[outcome]).inc();
	}

	/// Counts stored bytes.
	pub fn stored_bytes(&self, bytes: u32) {
		self.uploaded_bytes.inc_by(u64::from(bytes));
	}

	/// Counts a served record.
	pub fn served(&self, bytes: usize) {
		self.served.inc();
		self.served_bytes.inc_by(bytes as u64);
	}

	/// Counts a sweeper change.
	pub fn swept(&self, change: &str) {
		self.swept.with_label_values(&[change]).inc();
	}

	/// The text exposition format.
	pub fn render(&self) -> Result<String, String> {
		let mut out = Vec::new();
		TextEncoder::new().encode(&self.registry.gather(), &mut out).map_err(|e| e.to_string())?;
		String::from_utf8(out).map_err(|e| e.to_string())
	}
}
