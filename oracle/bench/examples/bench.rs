//! The multi-LoRA serving benchmark: `cargo run --release -p lineage-bench --example bench [DIR]`.
//!
//! Writes the bench fixture under DIR (default: `lineage-bench` in the system temp dir; reused
//! when already there) and prints the report table.

use std::path::PathBuf;

use lineage_bench::{run_bench, BenchOptions};

fn main() -> anyhow::Result<()> {
	let dir = std::env::args()
		.nth(1)
		.map(PathBuf::from)
		.unwrap_or_else(|| std::env::temp_dir().join("lineage-bench"));
	let report = run_bench(&BenchOptions::full(dir))?;
	println!("{report}");
	Ok(())
}
