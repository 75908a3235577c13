//! The benchmarks' code paths on tiny sizes: every row runs and reports a throughput (the
//! figures themselves are measured by `lineage-oracle bench`, not asserted here).

use lineage_bench::{run_bench, run_gguf_bench, BenchOptions};
use lineage_testkit::{smollm2_gguf, temp_dir};

#[test]
fn bench_runs_on_tiny_sizes() {
	let dir_guard = temp_dir("bench");
	let dir = dir_guard.path().to_path_buf();
	let report = run_bench(&BenchOptions::quick(dir.clone())).expect("bench");
	let text = report.to_string();
	assert!(text.contains("unmerged") && text.contains("naive") && text.contains("base"), "{text}");
	// 3 rows per n, 2 round-robin rows, the budget-limited row.
	assert_eq!(report.rows.len(), 2 * 3 + 2 + 1);
	assert!(report.rows.iter().all(|r| r.tokens_per_s > 0.0));
	assert!(report.budget.is_some());
	let _ = std::fs::remove_dir_all(dir);
}

/// The real-model benchmark's code path on tiny sizes: both base loadings, every row, the
/// naive merge only on the dense base, every request run to its length.
#[test]
fn gguf_bench_runs_on_tiny_sizes() {
	let dir_guard = temp_dir("gguf-bench");
	let dir = dir_guard.path().to_path_buf();
	let mut opts = BenchOptions::gguf(dir.clone(), smollm2_gguf());
	opts.adapter_counts = vec![2];
	opts.batch = 2;
	opts.requests = 4;
	opts.prompt_len = 3;
	opts.output_len = 3;
	opts.repeats = 1;
	let report = run_gguf_bench(opts).expect("the GGUF benchmark runs");
	let _ = std::fs::remove_dir_all(&dir);
	let cases =
		|r: &lineage_bench::BenchReport| r.rows.iter().map(|r| r.case.clone()).collect::<Vec<_>>();
	assert_eq!(
		cases(&report.quantized),
		["base", "unmerged", "base (rr)", "unmerged (rr)", "unmerged 1/4"]
	);
	assert_eq!(
		cases(&report.q8_0),
		["base", "unmerged", "base (rr)", "unmerged (rr)", "unmerged 1/4"]
	);
	assert_eq!(
		cases(&report.dense),
		["base", "unmerged", "naive", "base (rr)", "unmerged (rr)", "unmerged 1/4"]
	);
	for row in report.quantized.rows.iter().chain(&report.q8_0.rows).chain(&report.dense.rows) {
		// 4 requests × 3 tokens each, end-of-sequence tokens ignored.
		assert!(row.tokens_per_s > 0.0, "{row:?}");
		assert!(row.wall.as_secs_f64() * row.tokens_per_s > 11.9, "{row:?}");
	}
	let text = report.to_string();
	assert!(text.contains("quantized base / f32 base:"), "{text}");
	assert!(text.contains("base linears requantized to Q8_0"), "{text}");
	assert!(
		text.contains("SmolLM2-135M-Instruct.Q4_1.gguf (base linears kept quantized)"),
		"{text}"
	);
}
