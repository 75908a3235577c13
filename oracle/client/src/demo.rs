//! The scripted demo of the whole path (`lineage-oracle demo`, run by `scripts/dev`), against a
//! dev chain and an oracle serving in chain mode with the operator key given here:
//!
//! 1. Alice creates a curated datanet; Bob and Ferdie contribute records; Alice accepts them
//!    (Bob at 100% quality, Ferdie at 150%) and freezes version 1.
//! 2. Charlie registers the base model (the served model's artifact hash); Dave registers the
//!    adapters, the first trained on the datanet's version 1 and each next one continuing from
//!    the one before (its parent), priced 1 LIN per 1,000 input and 2 LIN per 1,000 output tokens.
//! 3. Alice funds the operator's account, which bonds and registers as operator.
//! 4. Eve, the payer, deposits escrow with the operator.
//! 5. Eve sends chat completions over HTTP, each signed with her key; Ferdie, with no escrow,
//!    is refused (402).
//! 6. The oracle journals, batches, signs, submits and settles; the demo waits until Eve's escrow
//!    has paid exactly the fees of the answers she received and the operator has no batch open.
//! 7. It reads back from chain who earned what: adapter author, base-model owner, each data
//!    contributor, operator and treasury ([`DemoReport`]'s table).
//!
//! The e2e tests run the same [`run_demo`] and check its figures exactly.

use std::{fmt, path::PathBuf, time::Duration};

use anyhow::{bail, Context};
use lineage_primitives::Hash;
use subxt::utils::{AccountId32, H256};
use subxt_signer::sr25519::{dev, Keypair};

use lineage_adapters::store::{hash_dir, sha256_file};
use lineage_chain::{
	self as chain, connect,
	keys::{account_of, keypair_from_suri},
	lineage::{
		self,
		runtime_types::{
			bounded_collections::bounded_vec::BoundedVec, lineage_primitives::DatanetVersionRef,
			pallet_datanets::ContributionPolicy, pallet_models::Price,
			sp_arithmetic::per_things::Perbill,
		},
	},
	operator::register,
	payer::{sign_request, RequestToSign, SPENT_HEADER},
	submit_and_finalize,
	time::unix_time_ms,
	LineageClient,
};

/// One LIN (10 decimals).
pub const UNIT: u128 = 10_000_000_000;

/// `lineage-oracle demo`'s arguments.
#[derive(clap::Args, Clone, Debug)]
pub struct DemoArgs {
	/// The node's RPC URL.
	#[arg(long, default_value = "ws://127.0.0.1:9944")]
	pub url: String,
	/// The oracle's HTTP address.
	#[arg(long, default_value = "http://127.0.0.1:8000")]
	pub oracle: String,
	/// The operator key the oracle serves with (a dev secret URI).
	#[arg(long, default_value = "//LineageOracle")]
	pub operator_suri: String,
	/// The served base model: a GGUF file or a Hugging Face folder (its artifact hash is
	/// registered).
	#[arg(long)]
	pub base_model: PathBuf,
	/// The adapter folders the oracle serves (under their folder names), in lineage order.
	#[arg(long, num_args = 1.., required = true)]
	pub adapters: Vec<PathBuf>,
	/// Completions per adapter.
	#[arg(long, default_value_t = 2)]
	pub requests: usize,
	/// Tokens per completion at most.
	#[arg(long, default_value_t = 24)]
	pub max_tokens: u64,
}

/// The demo's inputs.
#[derive(Clone, Debug)]
pub struct DemoConfig {
	/// The node's RPC URL.
	pub url: String,
	/// The oracle's HTTP address.
	pub oracle: String,
	/// The oracle's operator key.
	pub operator: Keypair,
	/// The served base model (file or folder).
	pub base_model: PathBuf,
	/// The served adapters' folders, in lineage order.
	pub adapters: Vec<PathBuf>,
	/// Completions per adapter.
	pub requests: usize,
	/// Tokens per completion at most.
	pub max_tokens: u64,
	/// Escrow Eve deposits.
	pub escrow: u128,
	/// How long to wait for the oracle and for settlement.
	pub timeout: Duration,
}

impl DemoConfig {
	/// The configuration `lineage-oracle demo` runs with.
	pub fn from_args(a: DemoArgs) -> anyhow::Result<Self> {
		Ok(DemoConfig {
			url: a.url,
			oracle: a.oracle,
			operator: keypair_from_suri(&a.operator_suri)?,
			base_model: a.base_model,
			adapters: a.adapters,
			requests: a.requests,
			max_tokens: a.max_tokens,
			escrow: 50 * UNIT,
			timeout: Duration::from_secs(300),
		})
	}
}

/// One answered request.
#[derive(Clone, Debug)]
pub struct Answer {
	/// The adapter's served name.
	pub adapter: String,
	/// The question.
	pub question: String,
	/// The answer's text.
	pub text: String,
	/// Prompt tokens.
	pub input_tokens: u64,
	/// Generated tokens.
	pub output_tokens: u64,
}

impl Answer {
	/// The answer in a chat completion's JSON body.
	fn from_body(adapter: &str, question: &str, body: &serde_json::Value) -> Self {
		Answer {
			adapter: adapter.to_string(),
			question: question.to_string(),
			text: body["choices"][0]["message"]["content"].as_str().unwrap_or_default().into(),
			input_tokens: body["usage"]["prompt_tokens"].as_u64().unwrap_or(0),
			output_tokens: body["usage"]["completion_tokens"].as_u64().unwrap_or(0),
		}
	}

	/// What it costs at the demo's price ([`demo_fee`]).
	pub fn fee(&self) -> u128 {
		demo_fee(self.input_tokens, self.output_tokens)
	}
}

/// The demo adapters' price per 1,000 prompt tokens (1 LIN) and generated tokens (2 LIN): every
/// token costs a whole number of units, so fees never round, however requests are batched.
pub const DEMO_PRICE: (u128, u128) = (UNIT, 2 * UNIT);

/// The fee of `input` prompt and `output` generated tokens at [`DEMO_PRICE`] (the chain's
/// `usage_fee`; u64 tokens at this price cannot overflow).
pub fn demo_fee(input: u64, output: u64) -> u128 {
	lineage_primitives::usage::usage_fee(input, output, DEMO_PRICE.0, DEMO_PRICE.1)
		.unwrap_or(u128::MAX)
}

/// One row of the earnings table.
#[derive(Clone, Debug)]
pub struct Earner {
	/// Who (a dev name).
	pub name: String,
	/// Their account.
	pub account: AccountId32,
	/// Why they earned.
	pub role: String,
	/// What they earned, in the chain's smallest unit.
	pub amount: u128,
}

/// What the demo did and read back.
#[derive(Clone, Debug)]
pub struct DemoReport {
	/// The datanet created.
	pub datanet: u32,
	/// The base model's id.
	pub model: u32,
	/// The adapters' (served name, id).
	pub adapters: Vec<(String, u32)>,
	/// The operator's account.
	pub operator: AccountId32,
	/// Eve's answered requests.
	pub answers: Vec<Answer>,
	/// Eve's question to the base model alone (served free with `--free-base`): the answer,
	/// or the refusal's status and message.
	pub base: Option<Result<Answer, (u16, String)>>,
	/// Ferdie's refusal (HTTP status and message).
	pub refused: (u16, String),
	/// Escrow deposited and left.
	pub escrow: (u128, u128),
	/// The fees charged: the sum over the answers at the adapters' prices.
	pub total_fee: u128,
	/// Batches the operator submitted.
	pub batches: u64,
	/// Who earned what.
	pub earners: Vec<Earner>,
}

/// Formats an amount in LIN with 6 decimals (rounded down).
pub fn lin(amount: u128) -> String {
	format!("{}.{:06}", amount / UNIT, (amount % UNIT) / (UNIT / 1_000_000))
}

impl fmt::Display for DemoReport {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		writeln!(f, "datanet {} (curated by Alice), version 1 frozen", self.datanet)?;
		writeln!(f, "base model {} registered by Charlie", self.model)?;
		for (i, (name, id)) in self.adapters.iter().enumerate() {
			let parent =
				if i == 0 { "none".to_string() } else { self.adapters[i - 1].1.to_string() };
			writeln!(
				f,
				"adapter {id} `{name}` by Dave: parent {parent}, trained on datanet {} v1 (100%)",
				self.datanet
			)?;
		}
		writeln!(f, "operator {} bonded and registered", self.operator)?;
		writeln!(f)?;
		for a in &self.answers {
			writeln!(
				f,
				"Eve → {}: {:?}\n    {:?} ({} prompt + {} completion tokens)",
				a.adapter, a.question, a.text, a.input_tokens, a.output_tokens
			)?;
		}
		match &self.base {
			Some(Ok(a)) => writeln!(
				f,
				"Eve → base model {} (free, not billed): {:?}\n    {:?}",
				a.adapter, a.question, a.text
			)?,
			Some(Err((status, message))) => {
				writeln!(f, "Eve → base model: HTTP {status}: {message}")?
			},
			None => {},
		}
		writeln!(f, "Ferdie (no escrow) → HTTP {}: {}", self.refused.0, self.refused.1)?;
		writeln!(f)?;
		writeln!(
			f,
			"settled on chain: {} batch(es), fees {} LIN; Eve's escrow {} → {} LIN",
			self.batches,
			lin(self.total_fee),
			lin(self.escrow.0),
			lin(self.escrow.1)
		)?;
		writeln!(f, "| {:<8} | {:<48} | {:<32} | {:>10} |", "who", "account", "role", "LIN")?;
		writeln!(f, "|{:-<10}|{:-<50}|{:-<34}|{:->12}|", "", "", "", "")?;
		for e in &self.earners {
			writeln!(
				f,
				"| {:<8} | {:<48} | {:<32} | {:>10} |",
				e.name,
				e.account.to_string(),
				e.role,
				lin(e.amount)
			)?;
		}
		let sum: u128 = self.earners.iter().map(|e| e.amount).sum();
		writeln!(f, "| {:<8} | {:<48} | {:<32} | {:>10} |", "total", "", "= fees charged", lin(sum))
	}
}

/// `lineage-oracle demo`.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
	let report = run_demo(&DemoConfig::from_args(args)?).await?;
	println!("{report}");
	Ok(())
}

/// A bounded byte string of the generated client types.
pub(crate) fn bytes(s: &str) -> BoundedVec<u8> {
	BoundedVec(s.as_bytes().to_vec())
}

async fn submit<Call: subxt::tx::Payload>(
	client: &LineageClient,
	call: &Call,
	who: &Keypair,
	what: &str,
) -> anyhow::Result<chain::Finalized> {
	submit_and_finalize(client, call, who).await.with_context(|| format!("{what} failed"))
}

/// The treasury's account: `PalletId(*b"lin/trsy")` as the runtime derives it.
pub fn treasury_account() -> AccountId32 {
	let mut raw = [0u8; 32];
	raw[..4].copy_from_slice(b"modl");
	raw[4..12].copy_from_slice(b"lin/trsy");
	AccountId32(raw)
}

/// `who`'s free balance at the current finalized block.
pub async fn free_balance(client: &LineageClient, who: &AccountId32) -> anyhow::Result<u128> {
	Ok(chain::free_balance(&client.at_current_block().await?, *who).await?)
}

/// `payer`'s escrow balance with `operator` at the current finalized block.
pub async fn escrow_of(
	client: &LineageClient,
	payer: &AccountId32,
	operator: &AccountId32,
) -> anyhow::Result<u128> {
	Ok(chain::escrow_balance(&client.at_current_block().await?, *payer, *operator).await?)
}

/// The artifact hash of a model: the chain's `artifact_hash` rule over a GGUF file, or over
/// every file of a Hugging Face folder.
pub fn model_hash(path: &std::path::Path) -> anyhow::Result<Hash> {
	let mut files = Vec::new();
	if path.is_dir() {
		for entry in std::fs::read_dir(path)? {
			let entry = entry?;
			if entry.file_type()?.is_file() {
				let name = entry.file_name().to_string_lossy().into_owned();
				files.push((name, sha256_file(&entry.path())?));
			}
		}
	} else {
		let name = path.file_name().context("the model path has no file name")?;
		files.push((name.to_string_lossy().into_owned(), sha256_file(path)?));
	}
	let named: Vec<(&str, [u8; 32])> = files.iter().map(|(n, d)| (n.as_str(), *d)).collect();
	Ok(lineage_primitives::artifact_hash(&named))
}

/// What a [`PayerClient`] lets one request add to a payer's spend limit by default: 1 LIN.
pub const DEFAULT_ALLOWANCE: u128 = 10_000_000_000;

/// An HTTP client that signs each request as its payer for one oracle (operator) on one chain.
///
/// Each request's spend limit is what the oracle last said it counts against the payer
/// (`x-lineage-spent`, 0 before the first answer) plus [`PayerClient::allowance`], so the most
/// the operator can ever take is what the payer used plus one allowance. When the oracle answers
/// `spend_limit_too_low` (it counts more, say after a restart), the client signs once more on
/// top of the figure the oracle sent.
#[derive(Clone, Debug)]
pub struct PayerClient {
	/// The HTTP client.
	pub http: reqwest::Client,
	/// The oracle's HTTP address.
	pub oracle: String,
	/// The chain's genesis hash.
	pub genesis: [u8; 32],
	/// The operator the oracle serves as.
	pub operator: AccountId32,
	/// What one request may add to the spend limit.
	pub allowance: u128,
	/// Per payer: what the oracle last counted against the payer's spend limit.
	spent: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<[u8; 32], u128>>>,
}

impl PayerClient {
	/// A client of the oracle at `oracle` (operator `operator`, chain `genesis`), allowing
	/// [`DEFAULT_ALLOWANCE`] per request.
	pub fn new(
		http: reqwest::Client,
		oracle: String,
		genesis: [u8; 32],
		operator: AccountId32,
	) -> Self {
		PayerClient {
			http,
			oracle,
			genesis,
			operator,
			allowance: DEFAULT_ALLOWANCE,
			spent: Default::default(),
		}
	}

	/// What the oracle last counted against `payer`'s spend limit (0 before its first answer).
	pub fn spent(&self, payer: &Keypair) -> u128 {
		let spent = self.spent.lock().unwrap_or_else(|e| e.into_inner());
		spent.get(&payer.public_key().0).copied().unwrap_or(0)
	}

	/// A chat completion (greedy) signed by `payer`: `(HTTP status, parsed body)`.
	pub async fn chat(
		&self,
		payer: &Keypair,
		model: &str,
		question: &str,
		max_tokens: u64,
	) -> anyhow::Result<(u16, serde_json::Value)> {
		let body = serde_json::to_vec(&serde_json::json!({
			"model": model,
			"messages": [{"role": "user", "content": question}],
			"max_tokens": max_tokens,
			"temperature": 0,
		}))?;
		let mut retried = false;
		loop {
			let spend_limit = self.spent(payer).saturating_add(self.allowance);
			let path = "/v1/chat/completions";
			let request = RequestToSign {
				method: "POST",
				path,
				body: &body,
				timestamp_ms: unix_time_ms(),
				nonce: rand::random(),
				spend_limit,
			};
			let headers = sign_request(payer, self.genesis, self.operator.0, &request);
			let mut req = self
				.http
				.post(format!("{}{path}", self.oracle))
				.header("content-type", "application/json")
				.body(body.clone());
			for (name, value) in headers {
				req = req.header(name, value);
			}
			let resp = req.send().await.context("sending a completion to the oracle")?;
			let status = resp.status().as_u16();
			let counted = resp
				.headers()
				.get(SPENT_HEADER)
				.and_then(|v| v.to_str().ok())
				.and_then(|v| v.parse::<u128>().ok());
			if let Some(counted) = counted {
				let mut spent = self.spent.lock().unwrap_or_else(|e| e.into_inner());
				spent.insert(payer.public_key().0, counted);
			}
			let json: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
			let too_low = json["error"]["code"] == "spend_limit_too_low";
			if too_low && counted.is_some() && !retried {
				retried = true;
				continue;
			}
			return Ok((status, json));
		}
	}
}

/// What [`setup_chain`] registered.
#[derive(Clone, Debug)]
pub struct Setup {
	/// The datanet.
	pub datanet: u32,
	/// The base model's id.
	pub model: u32,
	/// The adapters' (served name, id), in lineage order.
	pub adapters: Vec<(String, u32)>,
	/// The operator's account.
	pub operator: AccountId32,
	/// Eve's escrow with the operator after her deposit.
	pub escrow: u128,
}

/// Steps 1–4 of the demo: the datanet, the base model, the adapters, the operator and Eve's
/// escrow.
pub async fn setup_chain(client: &LineageClient, cfg: &DemoConfig) -> anyhow::Result<Setup> {
	let (alice, bob, charlie, dave, eve, ferdie) =
		(dev::alice(), dev::bob(), dev::charlie(), dev::dave(), dev::eve(), dev::ferdie());
	let client = client.clone();
	let operator = account_of(&cfg.operator);

	// 1. The datanet.
	let created = submit(
		&client,
		&lineage::tx().datanets().create_datanet(
			bytes("lineage-demo"),
			bytes("ipfs://lineage-demo"),
			bytes("CC-BY-4.0"),
			ContributionPolicy::Curated,
		),
		&alice,
		"create_datanet",
	)
	.await?;
	let datanet = created
		.events
		.find_first::<lineage::datanets::events::DatanetCreated>()
		.context("no DatanetCreated event")??
		.datanet;
	// Token counts are at most one per byte; the curator sets them at acceptance (here, as
	// declared). Weights: Bob 10, Ferdie 20 at 150% = 30.
	for (who, record, tokens, quality) in [
		(&bob, "bob's cleaned dialogues: hello -> hi there", 10u32, 100u16),
		(&ferdie, "ferdie's math set: 2 + 2 -> 4; 3 * 3 -> 9", 20, 150),
	] {
		let hash = H256(sha2_digest(record.as_bytes()));
		let done = submit(
			&client,
			&lineage::tx().datanets().contribute(datanet, hash, record.len() as u32, tokens, None),
			who,
			"contribute",
		)
		.await?;
		let id = done
			.events
			.find_first::<lineage::datanets::events::ContributionSubmitted>()
			.context("no ContributionSubmitted event")??
			.contribution;
		submit(
			&client,
			&lineage::tx().datanets().accept_contribution(datanet, id, Some(quality), None),
			&alice,
			"accept_contribution",
		)
		.await?;
	}
	submit(&client, &lineage::tx().datanets().freeze_version(datanet), &alice, "freeze_version")
		.await?;

	// 2. The base model and the adapters.
	let base_hash = model_hash(&cfg.base_model)?;
	let model = submit(
		&client,
		&lineage::tx().models().register_model(
			base_hash,
			bytes("llama"),
			bytes("Apache-2.0"),
			bytes(&format!("file://{}", cfg.base_model.display())),
		),
		&charlie,
		"register_model",
	)
	.await?
	.events
	.find_first::<lineage::models::events::ModelRegistered>()
	.context("no ModelRegistered event")??
	.model;
	let mut adapters: Vec<(String, u32)> = Vec::new();
	for dir in &cfg.adapters {
		let name = dir.file_name().context("adapter folder without a name")?.to_string_lossy();
		let rank = adapter_rank(dir)?;
		let parent = adapters.last().map(|(_, id)| *id);
		let id = submit(
			&client,
			&lineage::tx().models().register_adapter(
				model,
				parent,
				hash_dir(dir)?,
				rank,
				BoundedVec(
					["q_proj", "k_proj", "v_proj", "o_proj"].into_iter().map(bytes).collect(),
				),
				Price { per_1k_input: DEMO_PRICE.0, per_1k_output: DEMO_PRICE.1 },
				bytes("Apache-2.0"),
				bytes(&format!("file://{}", dir.display())),
				BoundedVec(vec![(
					DatanetVersionRef { datanet, version: 1 },
					Perbill(1_000_000_000),
				)]),
			),
			&dave,
			"register_adapter",
		)
		.await?
		.events
		.find_first::<lineage::models::events::AdapterRegistered>()
		.context("no AdapterRegistered event")??
		.adapter;
		adapters.push((name.into_owned(), id));
	}

	// 3. The operator: its 1,000 LIN bond and the transaction fees of its batches and
	// settlements (each `submit_usage` is charged its benchmarked worst case for its shape,
	// about 10 LIN for a small batch on this runtime).
	let needed = 2_000 * UNIT;
	if free_balance(&client, &operator).await? < needed {
		submit(
			&client,
			&lineage::tx().balances().transfer_keep_alive(operator.into(), needed),
			&alice,
			"funding the operator",
		)
		.await?;
	}
	register(&client, &cfg.operator, &cfg.oracle).await.context("registering the operator")?;

	// 4. Eve's escrow.
	submit(
		&client,
		&lineage::tx().usage().deposit_escrow(operator, cfg.escrow),
		&eve,
		"deposit_escrow",
	)
	.await?;
	let escrow = escrow_of(&client, &account_of(&eve), &operator).await?;
	Ok(Setup { datanet, model, adapters, operator, escrow })
}

/// Runs the demo (see the module doc).
pub async fn run_demo(cfg: &DemoConfig) -> anyhow::Result<DemoReport> {
	let client = connect(&cfg.url).await?;
	let (bob, charlie, dave, eve, ferdie) =
		(dev::bob(), dev::charlie(), dev::dave(), dev::eve(), dev::ferdie());
	let treasury_before = free_balance(&client, &treasury_account()).await?;
	let Setup { datanet, model, adapters, operator, escrow: escrow_before } =
		setup_chain(&client, cfg).await?;

	// 5. Completions, once the oracle serves the adapters.
	let http = reqwest::Client::new();
	let payers =
		PayerClient::new(http.clone(), cfg.oracle.clone(), client.genesis_hash().0, operator);
	let questions = ["What is 2 + 2?", "Name a primary colour.", "Say hello in French."];
	let deadline = tokio::time::Instant::now() + cfg.timeout;
	let mut answers = Vec::new();
	for (name, _) in &adapters {
		for q in questions.iter().cycle().take(cfg.requests) {
			let (status, body) = loop {
				let (status, body) = payers
					.chat(&eve, name, q, cfg.max_tokens)
					.await
					.unwrap_or((0, serde_json::Value::Null));
				// 403 until the oracle's registry has synced the new adapters; 0 until it listens.
				if (status == 0 || status == 403 || status == 503)
					&& tokio::time::Instant::now() < deadline
				{
					tokio::time::sleep(Duration::from_millis(500)).await;
					continue;
				}
				break (status, body);
			};
			if status != 200 {
				bail!("the oracle answered {status} to Eve's request on {name}: {body}");
			}
			answers.push(Answer::from_body(name, q, &body));
		}
	}
	let first = &adapters[0].0;
	let (status, body) = payers.chat(&ferdie, first, questions[0], cfg.max_tokens).await?;
	let refused = (status, body["error"]["message"].as_str().unwrap_or_default().to_string());
	let models: serde_json::Value =
		http.get(format!("{}/v1/models", cfg.oracle)).send().await?.json().await?;
	let base = match models["data"][0]["id"].as_str() {
		Some(base_id) => {
			let (status, body) = payers.chat(&eve, base_id, questions[0], cfg.max_tokens).await?;
			Some(if status == 200 {
				Ok(Answer::from_body(base_id, questions[0], &body))
			} else {
				Err((status, body["error"]["message"].as_str().unwrap_or_default().to_string()))
			})
		},
		None => None,
	};

	// 6. Settlement: Eve's escrow pays exactly her answers' fees and no batch stays open.
	let total_fee: u128 = answers.iter().map(Answer::fee).sum();
	let escrow_after = loop {
		let left = escrow_of(&client, &account_of(&eve), &operator).await?;
		let open = open_batches(&client, &operator).await?;
		if left + total_fee == escrow_before && open == 0 {
			break left;
		}
		if tokio::time::Instant::now() > deadline {
			bail!(
				"not settled in time: Eve's escrow is {} (expected {}), {open} batch(es) open",
				lin(left),
				lin(escrow_before - total_fee)
			);
		}
		tokio::time::sleep(Duration::from_millis(500)).await;
	};

	// 7. Who earned what.
	let at = client.at_current_block().await?;
	let batches: u64 = at
		.storage()
		.fetch(lineage::storage().usage().next_sequence(), (operator,))
		.await?
		.decode()?;
	let mut earners = Vec::new();
	for (name, key, role) in [
		("Dave", &dave, "adapter author"),
		("Charlie", &charlie, "base-model owner"),
		("Bob", &bob, "data contributor"),
		("Ferdie", &ferdie, "data contributor"),
	] {
		let pending = at
			.runtime_apis()
			.call(lineage::runtime_apis().attribution_api().pending_rewards(account_of(key)))
			.await?;
		let datanets: u128 = pending.versions.iter().map(|(_, _, v)| *v).sum();
		let amount = pending.as_author
			+ pending.as_base_owner
			+ pending.as_operator
			+ pending.as_contributor
			+ datanets;
		earners.push(Earner {
			name: name.into(),
			account: account_of(key),
			role: role.into(),
			amount,
		});
	}
	let op = at
		.runtime_apis()
		.call(lineage::runtime_apis().attribution_api().pending_rewards(operator))
		.await?;
	earners.push(Earner {
		name: "operator".into(),
		account: operator,
		role: "operator".into(),
		amount: op.as_operator,
	});
	let treasury = free_balance(&client, &treasury_account()).await? - treasury_before;
	earners.push(Earner {
		name: "treasury".into(),
		account: treasury_account(),
		role: "treasury (share + rounding dust)".into(),
		amount: treasury,
	});
	Ok(DemoReport {
		datanet,
		model,
		adapters,
		operator,
		answers,
		base,
		refused,
		escrow: (escrow_before, escrow_after),
		total_fee,
		batches,
		earners,
	})
}

/// The operator's batches still held by the chain (not yet settled).
pub async fn open_batches(client: &LineageClient, operator: &AccountId32) -> anyhow::Result<u32> {
	let at = client.at_current_block().await?;
	Ok(chain::operator_info(&at, *operator).await?.map_or(0, |o| o.open_batches))
}

/// The `r` of a PEFT adapter folder's `adapter_config.json`.
fn adapter_rank(dir: &std::path::Path) -> anyhow::Result<u32> {
	let cfg: serde_json::Value =
		serde_json::from_slice(&std::fs::read(dir.join("adapter_config.json"))?)?;
	cfg["r"].as_u64().map(|r| r as u32).context("adapter_config.json has no `r`")
}

fn sha2_digest(data: &[u8]) -> [u8; 32] {
	use sha2::Digest;
	sha2::Sha256::digest(data).into()
}
