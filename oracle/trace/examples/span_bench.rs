//! The span index benchmark: build time, bytes per token and the lookup time of one answer's
//! attribution against index size, with a brute-force scan of the same text as the baseline
//! (run in the same process, at the sizes it can finish).
//!
//! ```text
//! cargo run --release -p lineage-trace --example span_bench -- --sizes 1e6,1e7,1e8,5e8
//! ```
//!
//! The text is synthetic (seeded): records of 24–96 tokens drawn from a Zipf(1.1) law over a
//! 49,152-id vocabulary (SmolLM2's), which gives the short chance matches real text gives. Half
//! the answers copy a 24-token run of a random record (a planted source) between random tokens,
//! half are random: the lookup cost is one suffix-array search per answer position either way.
//! 5e8 tokens is 1 GB of 16-bit token ids. Retrieval (BM25 over the same index, top 4) is timed
//! on queries of 8 tokens drawn from one stored record, and counts how often that record ranks
//! first.

use std::{path::PathBuf, time::Instant};

use clap::Parser;
use lineage_trace::{
	attribute, retrieve, AttributionParams, RecordMeta, RetrievalParams, SpanIndexBuilder,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[derive(Parser)]
struct Args {
	/// Index sizes in tokens, comma-separated (`1e6` notation accepted).
	#[arg(long, value_delimiter = ',', default_value = "1e6,1e7,1e8")]
	sizes: Vec<f64>,
	/// Answers attributed per size.
	#[arg(long, default_value_t = 400)]
	answers: usize,
	/// Tokens per answer.
	#[arg(long, default_value_t = 64)]
	answer_len: usize,
	/// Largest size the brute-force baseline scans.
	#[arg(long, default_value_t = 2e6)]
	baseline_max: f64,
	/// Where the indexes are written (deleted after each size).
	#[arg(long, default_value = "target/lineage-span-bench")]
	work_dir: PathBuf,
	/// Seed of the text and the answers.
	#[arg(long, default_value_t = 7)]
	seed: u64,
}

const VOCAB: usize = 49_152;

/// A Zipf(1.1) sampler over the vocabulary (inverse CDF on a precomputed table).
struct Zipf(Vec<f64>);

impl Zipf {
	fn new() -> Self {
		let mut cdf = Vec::with_capacity(VOCAB);
		let mut acc = 0.0;
		for k in 1..=VOCAB {
			acc += 1.0 / (k as f64).powf(1.1);
			cdf.push(acc);
		}
		cdf.iter_mut().for_each(|c| *c /= acc);
		Zipf(cdf)
	}

	fn sample(&self, rng: &mut ChaCha8Rng) -> u32 {
		let u: f64 = rng.gen();
		self.0.partition_point(|&c| c < u).min(VOCAB - 1) as u32
	}
}

fn meta(i: u32) -> RecordMeta {
	RecordMeta {
		datanet: 0,
		version: 1,
		index: i,
		contribution: i,
		content_hash: [0; 32],
		contributor: [(i % 251) as u8; 32],
	}
}

/// The longest match at each position by scanning the whole text (the baseline).
fn brute_force(records: &[Vec<u32>], answer: &[u32]) -> usize {
	let mut total = 0;
	for i in 0..answer.len() {
		let q = &answer[i..];
		let mut best = 0;
		for r in records {
			for s in 0..r.len() {
				let l = r[s..].iter().zip(q).take_while(|(a, b)| a == b).count();
				best = best.max(l);
			}
		}
		total += best;
	}
	total
}

fn main() -> anyhow::Result<()> {
	let args = Args::parse();
	let zipf = Zipf::new();
	println!(
		"| tokens | records | build s | build Mtok/s | bytes/token | lookup ms/answer (mean) | p99 ms | spans/answer | planted found | brute force ms/answer | speed-up | BM25 top-4 ms/query (mean) | p99 ms | source first |"
	);
	println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
	for &size in &args.sizes {
		let target = size as u64;
		let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
		// Records of 24-96 tokens up to the size.
		let mut records: Vec<Vec<u32>> = Vec::new();
		let mut builder = SpanIndexBuilder::new();
		let mut made = 0u64;
		while made < target {
			let len = rng.gen_range(24..=96);
			let r: Vec<u32> = (0..len).map(|_| zipf.sample(&mut rng)).collect();
			made += len as u64;
			builder.add_record(meta(records.len() as u32), &[&r])?;
			if (size as f64) <= args.baseline_max || records.len() < 1_000_000 {
				records.push(r);
			} else {
				records.push(Vec::new());
			}
		}
		let dir = args.work_dir.join(format!("{target}"));
		let _ = std::fs::remove_dir_all(&dir);
		let t = Instant::now();
		let index = builder.write(&dir)?;
		let build = t.elapsed().as_secs_f64();

		// Answers: planted (a 24-token run of a stored record inside random tokens) or random.
		let mut answers = Vec::with_capacity(args.answers);
		let mut planted = Vec::new();
		for a in 0..args.answers {
			let mut ans: Vec<u32> = (0..args.answer_len).map(|_| zipf.sample(&mut rng)).collect();
			if a % 2 == 0 {
				let r = loop {
					let r = rng.gen_range(0..records.len());
					if records[r].len() >= 24 {
						break r;
					}
				};
				let start = rng.gen_range(0..=records[r].len() - 24);
				let at = rng.gen_range(0..=args.answer_len.saturating_sub(24));
				ans[at..at + 24].copy_from_slice(&records[r][start..start + 24]);
				planted.push((a, r as u32));
			}
			answers.push(ans);
		}
		let params = AttributionParams::default();
		let mut times = Vec::with_capacity(answers.len());
		let mut spans = 0usize;
		let mut results = Vec::with_capacity(answers.len());
		for ans in &answers {
			let t = Instant::now();
			let at = attribute(&[&index], &[], ans, &params);
			times.push(t.elapsed().as_secs_f64() * 1e3);
			spans += at.spans.len();
			results.push(at);
		}
		let found = planted
			.iter()
			.filter(|(a, r)| {
				results[*a].records.first().is_some_and(|c| c.record.contribution == *r)
			})
			.count();
		times.sort_by(f64::total_cmp);
		let mean = times.iter().sum::<f64>() / times.len() as f64;
		let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
		// Retrieval: a query of 8 tokens drawn from one stored record (in its order, as a
		// question shares a record's rare words), the record's rank read back.
		let retrieval = RetrievalParams::default();
		let mut query_times = Vec::with_capacity(args.answers);
		let mut source_first = 0usize;
		for _ in 0..args.answers {
			let r = loop {
				let r = rng.gen_range(0..records.len());
				if records[r].len() >= 24 {
					break r;
				}
			};
			let mut picks: Vec<usize> =
				(0..8).map(|_| rng.gen_range(0..records[r].len())).collect();
			picks.sort();
			let query: Vec<u32> = picks.iter().map(|&i| records[r][i]).collect();
			let t = Instant::now();
			let top = retrieve(&index, &query, 4, &retrieval);
			query_times.push(t.elapsed().as_secs_f64() * 1e3);
			if top.first().is_some_and(|t| t.position == r as u32) {
				source_first += 1;
			}
		}
		query_times.sort_by(f64::total_cmp);
		let query_mean = query_times.iter().sum::<f64>() / query_times.len() as f64;
		let query_p99 = query_times[(query_times.len() * 99 / 100).min(query_times.len() - 1)];
		let (brute, ratio) = if size <= args.baseline_max {
			let n = 8.min(answers.len());
			let t = Instant::now();
			let mut check = 0;
			for ans in &answers[..n] {
				check += brute_force(&records, ans);
			}
			let ms = t.elapsed().as_secs_f64() * 1e3 / n as f64;
			std::hint::black_box(check);
			(format!("{ms:.1}"), format!("{:.0}×", ms / mean))
		} else {
			("—".into(), "—".into())
		};
		println!(
			"| {} | {} | {:.1} | {:.1} | {:.2} | {:.3} | {:.3} | {:.2} | {}/{} | {} | {} | {:.3} | {:.3} | {}/{} |",
			index.tokens(),
			index.records().len(),
			build,
			index.tokens() as f64 / build / 1e6,
			index.bytes_per_token(),
			mean,
			p99,
			spans as f64 / answers.len() as f64,
			found,
			planted.len(),
			brute,
			ratio,
			query_mean,
			query_p99,
			source_first,
			args.answers,
		);
		drop(index);
		let _ = std::fs::remove_dir_all(&dir);
	}
	Ok(())
}
