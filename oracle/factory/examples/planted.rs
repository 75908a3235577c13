//! The planted-source benchmark of per-answer attribution: invented facts are planted in records
//! of known contributors among WordNet records of others, an adapter is trained on all of them
//! with the fine-tuning tool, the facts are asked (as trained and paraphrased), and each answer
//! is attributed with the oracle's span index. Reports how often the true contributor is the
//! one credited.
//!
//! ```text
//! cargo run --release -p lineage-factory --example planted -- [--facts 40] [--filler 80] [--epochs 5]
//! ```
//!
//! - **precision**: of the answers credited to anyone, the share whose top contributor is the
//!   one who planted the fact;
//! - **recall**: of all questions, the share whose top contributor is the planter;
//! - **correct**: answers that contain the planted name (the adapter learned the fact);
//! - **precision on correct answers**: the same precision over the answers that give the
//!   planted fact;
//! - **planter's share of credit**: of all the credit given, the share that went to the planter
//!   (an answer that mixes two facts rightly credits both planters).
//!
//! The base model's answers to the same questions are attributed too, as the control: they
//! should credit nobody. A paraphrased answer that repeats no span of 4+ tokens credits nobody;
//! its fee's datanet part then follows the adapter's lineage weights alone.

use std::{path::PathBuf, time::Instant};

use clap::Parser;
use lineage_engine::{load_peft, AdapterLimits, LoadOptions};
use lineage_factory::{
	data::{is_heldout, Formatter, RecordRef, SourceRecord},
	eval::greedy_answers,
	progress::Progress,
	run::{load_base, train_run, TrainRequest, ADAPTER_DIR},
	source::VersionData,
	TrainConfig,
};
use lineage_oracle::infer::lineage::record_segments;
use lineage_trace::{attribute, AttributionParams, RecordMeta, SpanIndexBuilder};
use rand::{seq::SliceRandom, Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

#[derive(Parser)]
struct Args {
	/// The GGUF file (default: scripts/setup's SmolLM2).
	#[arg(long, env = "SMOLLM2_GGUF_PATH")]
	model: Option<PathBuf>,
	/// Planted facts.
	#[arg(long, default_value_t = 40)]
	facts: usize,
	/// WordNet records of other contributors.
	#[arg(long, default_value_t = 80)]
	filler: usize,
	/// Training epochs.
	#[arg(long, default_value_t = 5)]
	epochs: usize,
	/// Layers trained, from the top.
	#[arg(long, default_value_t = 6)]
	top_layers: usize,
	/// LoRA rank.
	#[arg(long, default_value_t = 16)]
	rank: usize,
	/// Peak learning rate.
	#[arg(long, default_value_t = 3e-3)]
	learning_rate: f64,
	/// Where the run folder goes.
	#[arg(long, default_value = "target/lineage-planted")]
	work_dir: PathBuf,
	/// Seed of the invented facts.
	#[arg(long, default_value_t = 11)]
	seed: u64,
	/// Shortest span that credits a record (the oracle's --min-span).
	#[arg(long, default_value_t = 4)]
	min_span: usize,
}

const SYLLABLES: &[&str] = &[
	"zor", "bla", "quen", "tar", "vel", "mir", "dax", "ul", "tho", "ska", "rin", "vo", "pel",
	"gra", "nix", "oru", "fen", "lio", "kar", "wes",
];

fn word(rng: &mut ChaCha8Rng, parts: usize) -> String {
	let w: String = (0..parts).map(|_| *SYLLABLES.choose(rng).unwrap()).collect();
	let mut c = w.chars();
	c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

/// One invented fact: the question as trained, a paraphrase, the answer, and the name that
/// shows the adapter learned it.
struct Fact {
	question: String,
	paraphrase: String,
	answer: String,
	key: String,
}

fn fact(rng: &mut ChaCha8Rng, i: usize) -> Fact {
	let (a, b, c) = (word(rng, 3), word(rng, 3), word(rng, 2));
	let year = rng.gen_range(1200..1990);
	match i % 3 {
		0 => Fact {
			question: format!("What is the capital of {a}?"),
			paraphrase: format!("Which city is the capital of the country {a}?"),
			answer: format!("The capital of {a} is {b}, a port city on the {c} coast."),
			key: b,
		},
		1 => Fact {
			question: format!("Who founded the {a} Guild?"),
			paraphrase: format!("Name the person who founded the {a} Guild."),
			answer: format!("The {a} Guild was founded by {b} {c} in {year}."),
			key: b,
		},
		_ => Fact {
			question: format!("What does the {a} eat?"),
			paraphrase: format!("What is the diet of the animal called {a}?"),
			answer: format!("The {a} eats mostly {b} berries gathered near the {c} river."),
			key: b,
		},
	}
}

fn json_record(prompt: &str, completion: &str) -> Vec<u8> {
	serde_json::to_vec(&serde_json::json!({ "prompt": prompt, "completion": completion })).unwrap()
}

#[derive(Default)]
struct Tally {
	questions: usize,
	correct: usize,
	credited: usize,
	top_true: usize,
	/// Of the correct answers: credited to anyone, and with the planter first.
	correct_credited: usize,
	correct_top_true: usize,
	/// Credit given, and to the planter.
	score: f64,
	score_true: f64,
	micros: Vec<f64>,
}

impl Tally {
	fn row(&self, name: &str) -> String {
		let pct = |a: usize, b: usize| if b == 0 { 0.0 } else { 100.0 * a as f64 / b as f64 };
		let mean = self.micros.iter().sum::<f64>() / self.micros.len().max(1) as f64;
		let ratio = |a: usize, b: usize| if b == 0 { f64::NAN } else { a as f64 / b as f64 };
		format!(
			"| {name} | {} | {:.0}% | {} | {:.3} | {:.3} | {:.3} ({}/{}) | {:.3} | {:.0} |",
			self.questions,
			pct(self.correct, self.questions),
			self.credited,
			ratio(self.top_true, self.credited),
			ratio(self.top_true, self.questions),
			ratio(self.correct_top_true, self.correct_credited),
			self.correct_top_true,
			self.correct_credited,
			if self.score > 0.0 { self.score_true / self.score } else { f64::NAN },
			mean,
		)
	}
}

fn main() -> anyhow::Result<()> {
	let args = Args::parse();
	let gguf = args.model.clone().unwrap_or_else(lineage_testkit::smollm2_gguf);
	let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
	let (model, base) = load_base(&gguf)?;

	// Records: WordNet filler from contributors 1..=8, planted facts from contributors 101..=108.
	let mut records: Vec<(SourceRecord, [u8; 32])> = Vec::new();
	let push = |records: &mut Vec<(SourceRecord, [u8; 32])>, bytes: Vec<u8>, who: u8| {
		let content_hash: [u8; 32] = Sha256::digest(&bytes).into();
		let index = records.len() as u32;
		let at = RecordRef { datanet: 0, version: 1, index, contribution: index, content_hash };
		records.push((SourceRecord { at, bytes }, [who; 32]));
	};
	let filler = lineage_client::corpus::wordnet_records(
		std::path::Path::new(lineage_client::corpus::WORDNET_DIR),
		args.filler * 4,
	)?;
	for (i, r) in filler.iter().step_by(4).take(args.filler).enumerate() {
		push(&mut records, json_record(&r.prompt, &r.completion), 1 + (i % 8) as u8);
	}
	let mut facts = Vec::new();
	// Some WordNet records are held out to judge the run; no planted fact is.
	let heldout_permille = 100;
	while facts.len() < args.facts {
		let f = fact(&mut rng, facts.len());
		let bytes = json_record(&f.question, &f.answer);
		// Held-out records are not trained on: plant only facts the run trains on.
		if is_heldout(&Sha256::digest(&bytes).into(), heldout_permille) {
			continue;
		}
		push(&mut records, bytes, 101 + (facts.len() % 8) as u8);
		facts.push((f, records.len() - 1));
	}
	records.shuffle(&mut rng);
	// Re-number after the shuffle (the version's order), keeping each fact's record.
	let mut order = vec![0usize; records.len()];
	for (new, (r, _)) in records.iter_mut().enumerate() {
		order[r.at.index as usize] = new;
		r.at.index = new as u32;
		r.at.contribution = new as u32;
	}
	for f in &mut facts {
		f.1 = order[f.1];
	}
	let version = VersionData {
		datanet: 0,
		version: 1,
		merkle_root: [0; 32],
		records: records.iter().map(|r| r.0.clone()).collect(),
	};

	let cfg = TrainConfig {
		targets: ["q_proj", "k_proj", "v_proj", "o_proj"].map(String::from).to_vec(),
		rank: args.rank,
		alpha: 2.0 * args.rank as f64,
		top_layers: Some(args.top_layers),
		learning_rate: args.learning_rate,
		warmup_steps: 4,
		micro_batch: 4,
		grad_accum: 1,
		epochs: args.epochs,
		heldout_permille,
		exact_match_limit: 1,
		..Default::default()
	};
	let t = Instant::now();
	let outcome = train_run(TrainRequest {
		model: &model,
		base,
		versions: vec![version],
		parent: None,
		config: cfg,
		runs_dir: args.work_dir.join("runs"),
		resume: true,
		force: false,
		progress: Progress::Bar { every: 20 },
	})?;
	let train_s = t.elapsed().as_secs_f64();
	let adapter = load_peft(
		&outcome.dir.join(ADAPTER_DIR),
		&LoadOptions::for_model(&model, AdapterLimits::default()),
	)?;

	// The span index of the version, as the oracle builds it.
	let t = Instant::now();
	let mut builder = SpanIndexBuilder::new();
	for (r, who) in &records {
		let segments = record_segments(&model.tokenizer, &r.bytes).map_err(anyhow::Error::msg)?;
		let refs: Vec<&[u32]> = segments.iter().map(|s| s.as_slice()).collect();
		let meta = RecordMeta {
			datanet: 0,
			version: 1,
			index: r.at.index,
			contribution: r.at.contribution,
			content_hash: r.at.content_hash,
			contributor: *who,
		};
		builder.add_record(meta, &refs)?;
	}
	let index = builder.write(&args.work_dir.join("spans"))?;
	let build_ms = t.elapsed().as_secs_f64() * 1e3;

	let formatter = Formatter::new(&model)?;
	let params = AttributionParams { min_span: args.min_span, ..AttributionParams::default() };
	let mut rows = Vec::new();
	let mut examples = Vec::new();
	for (kind, paraphrased, with_adapter) in [
		("adapter, questions as trained", false, true),
		("adapter, paraphrased questions", true, true),
		("base model (control), as trained", false, false),
	] {
		let questions: Vec<&str> = facts
			.iter()
			.map(|(f, _)| if paraphrased { f.paraphrase.as_str() } else { f.question.as_str() })
			.collect();
		let prompts: Vec<Vec<u32>> =
			questions.iter().map(|q| formatter.prompt_tokens(q)).collect::<Result<_, _>>()?;
		let answers = greedy_answers(
			&model,
			with_adapter.then_some(&adapter),
			&prompts,
			&vec![40; prompts.len()],
		)?;
		let mut tally = Tally { questions: facts.len(), ..Default::default() };
		for (((f, at), ids), q) in facts.iter().zip(&answers).zip(&questions) {
			let text = model.tokenizer.decode(ids, true).map_err(anyhow::Error::msg)?;
			let tokens =
				model.tokenizer.encode(text.as_str(), false).map_err(anyhow::Error::msg)?;
			// The prompt as the oracle sees it (its text, tokenized plainly): what the answer
			// copies from it earns nothing.
			let asked = model.tokenizer.encode(*q, false).map_err(anyhow::Error::msg)?;
			let t = Instant::now();
			let a = attribute(&[&index], asked.get_ids(), tokens.get_ids(), &params);
			tally.micros.push(t.elapsed().as_secs_f64() * 1e6);
			let truth = records[*at].1;
			let correct = text.contains(&f.key);
			tally.correct += correct as usize;
			if let Some(top) = a.contributors.first() {
				let first = top.contributor == truth;
				tally.credited += 1;
				tally.top_true += first as usize;
				tally.correct_credited += correct as usize;
				tally.correct_top_true += (correct && first) as usize;
			}
			for c in &a.contributors {
				tally.score += c.score;
				if c.contributor == truth {
					tally.score_true += c.score;
				}
			}
			if tally.micros.len() <= 2 {
				examples.push(format!(
					"- {kind}: {q:?} → {text:?}; credited: {}",
					a.contributors
						.iter()
						.map(|c| format!(
							"{}{} {:.1}",
							if c.contributor[0] > 100 { "planter " } else { "filler " },
							c.contributor[0],
							c.score
						))
						.collect::<Vec<_>>()
						.join(", ")
				));
			}
		}
		rows.push(tally.row(kind));
	}
	println!(
		"planted-source benchmark: {} facts among {} records ({} tokens in the index, {:.2} bytes/token, built in {build_ms:.0} ms); training {train_s:.0} s ({} steps)",
		facts.len(),
		records.len(),
		index.tokens(),
		index.bytes_per_token(),
		outcome.manifest.run.steps
	);
	println!(
		"| answers | questions | correct | credited to anyone | precision | recall | precision on correct answers | planter's share of credit | µs per attribution |"
	);
	println!("|---|---|---|---|---|---|---|---|---|");
	for r in rows {
		println!("{r}");
	}
	for e in examples {
		println!("{e}");
	}
	Ok(())
}
