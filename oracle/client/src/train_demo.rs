//! The training demo's last part (`lineage-oracle train-demo`, run by `scripts/dev` after
//! `lineage-factory train` and `register`): the adapter a run wrote is loaded into the running
//! oracle, one held-out question is asked of the base model and of the adapter through signed
//! requests, and the evaluation posted with the adapter is read back from the chain.
//!
//! The question is the held-out one (from the manifest's samples) where the adapter did best
//! against the base: one the base answered wrongly and the adapter exactly as the record says
//! when the run found one, else the one whose answer the adapter finds most likely relative to
//! the base.

use std::path::PathBuf;

use anyhow::Context;
use lineage_chain::{
	evaluation::adapter_evaluation,
	keys::{account_of, keypair_from_suri},
	lineage::{self, runtime_types::pallet_models::ArtifactOwner},
	LineageClient,
};
use subxt::utils::H256;

use crate::demo::PayerClient;

/// The `train-demo` command's arguments.
#[derive(Clone, Debug, clap::Args)]
pub struct TrainDemoArgs {
	/// The node's RPC endpoint.
	#[arg(long, default_value = "ws://127.0.0.1:9944")]
	pub url: String,
	/// The oracle's HTTP address.
	#[arg(long, default_value = "http://127.0.0.1:8000")]
	pub oracle: String,
	/// The operator the oracle serves as (its secret URI).
	#[arg(long, default_value = "//LineageOracle")]
	pub operator_suri: String,
	/// The payer who asks (has escrow with the operator after `lineage-oracle demo`).
	#[arg(long, default_value = "//Eve")]
	pub payer_suri: String,
	/// The run's manifest (`manifest.json`; the adapter is the `adapter` folder beside it).
	#[arg(long)]
	pub manifest: PathBuf,
	/// The name to serve the adapter as.
	#[arg(long, default_value = "wordnet-definitions")]
	pub name: String,
	/// The base model's name at the oracle.
	#[arg(long, default_value = "SmolLM2-135M-Instruct")]
	pub base: String,
	/// The file with the oracle's admin token (its `--admin-token-file`): loading an adapter
	/// into a paid oracle takes the operator's token.
	#[arg(long)]
	pub admin_token_file: Option<PathBuf>,
}

/// The sample to show (see the module doc).
fn pick(samples: &[serde_json::Value]) -> Option<&serde_json::Value> {
	let b = |v: &serde_json::Value, k: &str| v[k].as_bool().unwrap_or(false);
	let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap_or(0.0);
	samples.iter().find(|v| b(v, "adapter_exact") && !b(v, "base_exact")).or_else(|| {
		samples.iter().max_by(|a, b| {
			(f(a, "base_loss") - f(a, "adapter_loss"))
				.total_cmp(&(f(b, "base_loss") - f(b, "adapter_loss")))
		})
	})
}

fn answer_of(body: &serde_json::Value) -> String {
	body["choices"][0]["message"]["content"].as_str().unwrap_or("(no answer)").to_string()
}

/// The `lineage` of a response in words: the spans, the records they occur in and the
/// contributors credited.
pub fn describe_lineage(body: &serde_json::Value) -> String {
	let l = &body["lineage"];
	match l["status"].as_str() {
		None => "(none: the oracle does not trace this model)".into(),
		Some("attributed") => {
			let spans = l["spans"].as_array().map_or(0, |s| s.len());
			let mut out = format!(
				"{spans} verbatim span(s) over {} of {} answer tokens, found in {:.0} µs",
				l["credited_tokens"],
				l["completion_tokens"],
				l["micros"].as_f64().unwrap_or(0.0)
			);
			for s in l["spans"].as_array().into_iter().flatten().take(3) {
				out += &format!(
					"\n    span {:?} ({} tokens, {} occurrence(s))",
					s["text"].as_str().unwrap_or(""),
					s["tokens"],
					s["occurrences"]
				);
			}
			let credited = |r: &&serde_json::Value| r["score"].as_f64().unwrap_or(0.0) > 0.0;
			for r in l["records"].as_array().into_iter().flatten().filter(credited).take(3) {
				out += &format!(
					"\n    record {} of datanet {} v{} (contribution {}): {:.1} tokens",
					r["index"],
					r["datanet"],
					r["version"],
					r["contribution"],
					r["score"].as_f64().unwrap_or(0.0)
				);
			}
			let tokens = l["completion_tokens"].as_f64().unwrap_or(0.0);
			for c in l["contributors"].as_array().into_iter().flatten().take(3) {
				let score = c["score"].as_f64().unwrap_or(0.0);
				let share = if tokens > 0.0 { 100.0 * score / tokens } else { 0.0 };
				out += &format!(
					"\n    contributor {}: {score:.1} tokens, {share:.1}% of the answer (that share of \
					 its fee's matched part pays them at settlement)",
					c["contributor"].as_str().unwrap_or("?"),
				);
			}
			let prompt_spans = l["prompt_spans"].as_array().map_or(0, |s| s.len());
			if prompt_spans > 0 {
				out += &format!(
					"\n    the question itself is in {prompt_spans} place(s) of the training records \
					 (prompt spans credit nobody)"
				);
			}
			if spans == 0 {
				out += " (no span of the answer is in the training records: its fee follows the lineage weights alone)";
			}
			out
		},
		Some("unavailable") => format!("unavailable: {}", l["reason"].as_str().unwrap_or("?")),
		Some(other) => other.to_string(),
	}
}

/// Runs the demo's last part and prints what it saw.
pub async fn run(args: TrainDemoArgs) -> anyhow::Result<()> {
	let text = std::fs::read(&args.manifest)
		.with_context(|| format!("reading {}", args.manifest.display()))?;
	let manifest: serde_json::Value =
		serde_json::from_slice(&text).context("the manifest is not JSON")?;
	let dir =
		args.manifest.parent().map(|p| p.join("adapter")).context("the manifest has no folder")?;
	let http = reqwest::Client::new();
	let mut load = http
		.post(format!("{}/v1/load_lora_adapter", args.oracle))
		.json(&serde_json::json!({ "lora_name": args.name, "lora_path": dir }));
	if let Some(path) = &args.admin_token_file {
		let token = std::fs::read_to_string(path)
			.with_context(|| format!("reading the admin token {}", path.display()))?;
		load = load.bearer_auth(token.trim());
	}
	let loaded: serde_json::Value =
		load.send().await.context("loading the adapter into the oracle")?.json().await?;
	println!("oracle: {}", loaded["message"].as_str().unwrap_or(&loaded.to_string()));

	let client: LineageClient = lineage_chain::connect(&args.url).await?;
	let artifact = manifest["adapter"]["artifact_hash"]
		.as_str()
		.context("no artifact hash in the manifest")?;
	let mut hash = [0u8; 32];
	hex::decode_to_slice(artifact.trim_start_matches("0x"), &mut hash)?;
	let at = client.at_current_block().await?;
	let owner = at
		.storage()
		.try_fetch(lineage::storage().models().artifact_index(), (H256(hash),))
		.await?
		.map(|v| v.decode())
		.transpose()?;
	let Some(ArtifactOwner::Adapter(adapter)) = owner else {
		anyhow::bail!("adapter {artifact} is not registered: run lineage-factory register first");
	};

	let samples = manifest["evaluation"]["samples"].as_array().cloned().unwrap_or_default();
	let sample = pick(&samples).context("the manifest has no held-out sample")?;
	let question = sample["prompt"].as_str().unwrap_or_default();
	let reference = sample["reference"].as_str().unwrap_or_default();
	let operator = keypair_from_suri(&args.operator_suri)?;
	let payer = keypair_from_suri(&args.payer_suri)?;
	let oracle = PayerClient::new(
		http.clone(),
		args.oracle.clone(),
		client.genesis_hash().0,
		account_of(&operator),
	);
	let max_tokens = 64;
	let (base_status, base_body) = oracle.chat(&payer, &args.base, question, max_tokens).await?;
	let (mut ad_status, mut ad_body) =
		oracle.chat(&payer, &args.name, question, max_tokens).await?;
	// The first answer starts indexing the adapter's training versions; ask again once they are.
	for _ in 0..120 {
		if ad_body["lineage"]["status"] != "indexing" {
			break;
		}
		tokio::time::sleep(std::time::Duration::from_millis(500)).await;
		(ad_status, ad_body) = oracle.chat(&payer, &args.name, question, max_tokens).await?;
	}
	println!(
		"held-out question (record {} of datanet {} v{}): {question}",
		sample["at"]["index"], sample["at"]["datanet"], sample["at"]["version"]
	);
	println!("  the record says:   {reference}");
	println!("  base model ({base_status}):  {}", answer_of(&base_body));
	println!("  adapter {adapter} ({ad_status}):   {}", answer_of(&ad_body));
	println!("  lineage of the adapter's answer: {}", describe_lineage(&ad_body));
	println!(
		"  in training's evaluation: base {:?}, adapter {:?}",
		sample["base_answer"].as_str().unwrap_or_default(),
		sample["adapter_answer"].as_str().unwrap_or_default()
	);
	let posted = adapter_evaluation(&client, adapter)
		.await?
		.context("no evaluation posted for the adapter")?;
	println!(
		"evaluation on chain for adapter {adapter} (manifest 0x{}): {} held-out records, {} answer tokens; \
		 loss base {:.4} -> adapter {:.4} nats/token; token accuracy {:.1}% -> {:.1}%; exact match {:.1}% -> {:.1}%",
		hex::encode(posted.manifest_hash.0),
		posted.heldout_records,
		posted.heldout_tokens,
		f64::from(posted.base_loss) / 1e6,
		f64::from(posted.adapter_loss) / 1e6,
		f64::from(posted.base_token_accuracy.0) / 1e7,
		f64::from(posted.adapter_token_accuracy.0) / 1e7,
		f64::from(posted.base_exact_match.0) / 1e7,
		f64::from(posted.adapter_exact_match.0) / 1e7,
	);
	if ad_status != 200 {
		anyhow::bail!("the oracle refused the adapter request ({ad_status}): {ad_body}");
	}
	Ok(())
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn lineage_is_described_with_credited_records_only() {
		let body = serde_json::json!({"lineage": {
			"status": "attributed", "completion_tokens": 9, "credited_tokens": 6, "micros": 120,
			"spans": [{"text": "a tool for counting", "tokens": 6, "occurrences": 1}],
			"prompt_spans": [{"text": "the noun abacus"}],
			"records": [
				{"index": 4, "datanet": 1, "version": 2, "contribution": 17, "score": 6.0},
				{"index": 9, "datanet": 1, "version": 2, "contribution": 30, "score": 0.0}
			],
			"contributors": [{"contributor": "0x01", "score": 6.0}]
		}});
		let text = describe_lineage(&body);
		assert!(text.contains("1 verbatim span(s) over 6 of 9"), "{text}");
		assert!(text.contains("contribution 17") && !text.contains("contribution 30"), "{text}");
		assert!(text.contains("question itself is in 1 place"), "{text}");
		assert!(text.contains("0x01: 6.0 tokens, 66.7% of the answer"), "{text}");
		assert!(describe_lineage(&serde_json::json!({"lineage": {"status": "unavailable",
			"reason": "store down"}}))
		.contains("store down"));
		assert!(describe_lineage(&serde_json::json!({})).contains("does not trace"));
	}

	#[test]
	fn the_sample_shown_is_one_the_adapter_got_right_and_the_base_wrong() {
		let samples = vec![
			serde_json::json!({"reference": "a dog", "base_exact": false, "adapter_exact": false, "base_loss": 3.0, "adapter_loss": 1.0}),
			serde_json::json!({"reference": "a cat", "base_exact": true, "adapter_exact": true, "base_loss": 2.0, "adapter_loss": 1.9}),
			serde_json::json!({"reference": "a young dog.", "base_exact": false, "adapter_exact": true, "base_loss": 2.0, "adapter_loss": 1.9}),
		];
		assert_eq!(pick(&samples).unwrap()["reference"], "a young dog.");
		assert_eq!(pick(&samples[..1]).unwrap()["reference"], "a dog");
		assert!(pick(&[]).is_none());
	}
}
