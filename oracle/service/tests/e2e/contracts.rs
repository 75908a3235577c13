//! Contracts buy inference on the real node: the example dApps (Solidity, compiled by npm solc;
//! ink! 6, built by cargo-contract) are deployed with `Revive::instantiate_with_code`, each asks
//! for a completion through the Lineage precompile, the real oracle binary answers the job, and
//! the dApp reads the answer in a later call. The requester paid exactly the fee for the tokens
//! used, split as the policy says; a job nobody can answer expires and refunds everything; jobs
//! requested together are answered concurrently, each once, several in one block; an
//! Ethereum client (viem, through eth-rpc) reads an adapter's lineage from the precompile.
//!
//! Needs the dApps built (`scripts/contracts`, which `scripts/test` runs) and, for the Ethereum
//! test, `eth-rpc` on PATH (`scripts/setup`).

use std::{
	collections::HashMap,
	path::{Path, PathBuf},
	process::{Child, Command, Stdio},
	sync::{Arc, Mutex},
	time::{Duration, Instant},
};

use alloy_core::{
	primitives::Address,
	sol_types::{SolCall, SolEvent},
};
use lineage_chain::{lineage, LineageClient};
use lineage_client::{
	contracts::{self, contract_account, Limits},
	demo::{demo_fee, Setup, DEMO_PRICE, UNIT},
};
use subxt::utils::{AccountId32, H160};
use subxt_signer::sr25519::dev;

use crate::{
	node::{free_port, DevNode},
	oracle::{start_with_setup, Fixture, Oracle},
};

use lineage_client::contracts::dapp::LineageDapp;

/// The folder `scripts/contracts` writes the built dApps to.
fn build_dir() -> PathBuf {
	Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts/build")
}

/// A built dApp's code, or a failure naming the setup step.
fn code(file: &str) -> Vec<u8> {
	let path = build_dir().join(file);
	std::fs::read(&path).unwrap_or_else(|e| {
		panic!("{} is missing ({e}): run scripts/contracts (scripts/test runs it)", path.display())
	})
}

/// `who`'s free balance now.
async fn free(client: &LineageClient, who: &AccountId32) -> u128 {
	let at = client.at_current_block().await.expect("a block");
	lineage_chain::free_balance(&at, *who).await.expect("balance")
}

/// What one job did on chain, read from its events.
#[derive(Clone, Copy, Debug)]
struct Fulfilled {
	input_tokens: u64,
	output_tokens: u64,
	fee: u128,
	response_hash: [u8; 32],
	/// The block it was fulfilled in.
	block: u64,
	/// The `Attribution::FeesSplit` event of the fulfilment: author, base owner, datanets,
	/// operator, treasury.
	split: (u128, u128, u128, u128, u128),
}

/// Records every job's fulfilment and expiry from the finalized blocks, from its start on.
#[derive(Clone, Default)]
struct JobWatcher {
	fulfilled: Arc<Mutex<HashMap<u64, Fulfilled>>>,
	expired: Arc<Mutex<HashMap<u64, u128>>>,
}

impl JobWatcher {
	/// Starts following finalized blocks (before any job is requested, so none is missed).
	async fn start(client: &LineageClient) -> JobWatcher {
		let watcher = JobWatcher::default();
		let mut blocks = client.stream_blocks().await.expect("block stream");
		let w = watcher.clone();
		tokio::spawn(async move {
			while let Some(Ok(block)) = blocks.next().await {
				let number = block.number();
				let Ok(at) = block.at().await else { continue };
				let Ok(events) = at.events().fetch().await else { continue };
				let split = events
					.find_first::<lineage::attribution::events::FeesSplit>()
					.and_then(Result::ok)
					.map(|s| (s.author, s.base_owner, s.datanets, s.operator, s.treasury));
				for f in events.find::<lineage::jobs::events::JobFulfilled>().filter_map(Result::ok)
				{
					let record = Fulfilled {
						input_tokens: f.input_tokens,
						output_tokens: f.output_tokens,
						fee: f.fee,
						response_hash: f.response_hash.0,
						block: number,
						split: split.expect("a fulfilment's fee is split in its block"),
					};
					w.fulfilled.lock().unwrap().insert(f.job, record);
				}
				for e in events.find::<lineage::jobs::events::JobExpired>().filter_map(Result::ok) {
					w.expired.lock().unwrap().insert(e.job, e.refunded);
				}
			}
		});
		watcher
	}

	/// Waits until job `job` is fulfilled.
	async fn fulfilled(&self, job: u64, oracle: &Oracle) -> Fulfilled {
		let deadline = Instant::now() + Duration::from_secs(180);
		loop {
			if let Some(f) = self.fulfilled.lock().unwrap().get(&job) {
				return *f;
			}
			assert!(
				Instant::now() < deadline,
				"job {job} was not fulfilled within 180 s; oracle log:\n{}",
				oracle.log_text()
			);
			tokio::time::sleep(Duration::from_millis(200)).await;
		}
	}

	/// Waits until job `job` has expired; returns what it refunded.
	async fn expired(&self, job: u64) -> u128 {
		let deadline = Instant::now() + Duration::from_secs(120);
		loop {
			if let Some(refunded) = self.expired.lock().unwrap().get(&job) {
				return *refunded;
			}
			assert!(Instant::now() < deadline, "job {job} did not expire within 120 s");
			tokio::time::sleep(Duration::from_millis(200)).await;
		}
	}
}

/// Alice (the deployer and owner) asks `dapp` for a completion; returns the job id.
async fn ask(
	client: &LineageClient,
	dapp: H160,
	adapter: u32,
	prompt: &str,
	max_fee: u128,
	ttl: u32,
) -> u64 {
	let data = LineageDapp::askCall {
		adapterId: adapter,
		prompt: prompt.into(),
		maxOutputTokens: 8,
		maxFee: max_fee,
		ttlBlocks: ttl,
	}
	.abi_encode();
	let done = contracts::call(client, &dev::alice(), dapp, data, 0, Limits::default())
		.await
		.unwrap_or_else(|e| panic!("ask failed: {e}"));
	let requested = done
		.events
		.find_first::<lineage::jobs::events::JobRequested>()
		.expect("the ask requested a job")
		.expect("decodes");
	assert_eq!(requested.requester, contract_account(dapp), "the contract is the requester");
	requested.job
}

/// One dApp's whole path: deploy, ask, the oracle answers, collect, read the answer and the
/// adapter's lineage, the exact fee and split; then a job that expires and refunds.
async fn dapp_buys_a_completion(
	client: &LineageClient,
	watcher: &JobWatcher,
	setup: &Setup,
	oracle: &Oracle,
	name: &str,
	code: Vec<u8>,
) {
	let alice = dev::alice();
	let dapp = contracts::deploy(client, &alice, code, vec![], 20 * UNIT, Limits::default())
		.await
		.unwrap_or_else(|e| panic!("deploying the {name} dApp failed: {e}"));
	let account = contract_account(dapp);
	let (adapter_name, adapter) = setup.adapters[0].clone();
	println!("{name} dApp at {dapp:?}; adapter {adapter} ({adapter_name})");

	let before = free(client, &account).await;
	let job = ask(client, dapp, adapter, "What is 2 + 2?", UNIT, 60).await;
	let f = watcher.fulfilled(job, oracle).await;

	// A later call takes the answer; a read returns it from the dApp's storage.
	let done = contracts::call(
		client,
		&alice,
		dapp,
		LineageDapp::collectCall { jobId: job }.abi_encode(),
		0,
		Limits::default(),
	)
	.await
	.unwrap_or_else(|e| panic!("collect failed: {e}"));
	let origin = lineage_chain::keys::account_of(&alice);
	let read =
		contracts::read(client, &origin, dapp, LineageDapp::answerCall { jobId: job }.abi_encode())
			.await
			.unwrap_or_else(|e| panic!("reading the answer failed: {e}"));
	let answer = LineageDapp::answerCall::abi_decode_returns(&read.data).expect("a string");
	println!(
		"{name} dApp asked adapter {adapter} \"What is 2 + 2?\" (job {job}) → {answer:?} \
		 ({} prompt + {} completion tokens, fee {} = {:.6} LIN)",
		f.input_tokens,
		f.output_tokens,
		f.fee,
		f.fee as f64 / UNIT as f64
	);
	assert!(!answer.is_empty(), "the answer is empty");
	let hash: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(answer.as_bytes()).into();
	assert_eq!(hash, f.response_hash, "the answer read back is the one the operator signed");
	let answered = done
		.events
		.find::<lineage::revive::events::ContractEmitted>()
		.filter_map(Result::ok)
		.find_map(|e| {
			LineageDapp::Answered::decode_raw_log(
				e.topics.iter().map(|t| alloy_core::sol_types::Word::from(t.0)),
				&e.data,
			)
			.ok()
		})
		.expect("collect emitted Answered");
	assert_eq!(answered.output, answer);

	// Exactly the fee for the tokens used, at the adapter's price; the deposit came back.
	assert_eq!(f.fee, demo_fee(f.input_tokens, f.output_tokens));
	assert_eq!(free(client, &account).await, before - f.fee, "the dApp paid exactly the fee");
	// The split: author 40%, base owner 15%, datanets 30%, operator 10%, treasury 5% (every
	// token costs a multiple of 10^7 units, so each share is exact).
	let (author, base, datanets, operator, treasury) = f.split;
	assert_eq!(
		(author, base, datanets, operator, treasury),
		(f.fee * 40 / 100, f.fee * 15 / 100, f.fee * 30 / 100, f.fee * 10 / 100, f.fee * 5 / 100)
	);
	println!(
		"  fee split: author {author}, base-model owner {base}, datanets {datanets}, operator {operator}, treasury {treasury}"
	);

	// The lineage, through the dApp (a view forwarded to the precompile).
	let read = contracts::read(
		client,
		&origin,
		dapp,
		LineageDapp::lineageOfCall { adapterId: adapter }.abi_encode(),
	)
	.await
	.unwrap_or_else(|e| panic!("lineageOf failed: {e}"));
	let lineage = LineageDapp::lineageOfCall::abi_decode_returns(&read.data).expect("lineage");
	assert_eq!(lineage.baseModel, setup.model);
	assert_eq!(lineage.datanets, vec![setup.datanet]);
	assert_eq!(lineage.weightsPpb, vec![1_000_000_000]);
	assert_eq!(lineage.author, Address::from(contracts::address_of(&dev::dave()).0));

	// A ceiling that pays for no output token: the oracle gives the job up, it expires, and the
	// dApp gets everything back.
	let before = free(client, &account).await;
	let least = lineage_primitives::usage::usage_fee(1, 1, DEMO_PRICE.0, DEMO_PRICE.1).unwrap();
	let job = ask(client, dapp, adapter, "Name a primary colour.", least, 5).await;
	let refunded = watcher.expired(job).await;
	assert_eq!(refunded, least);
	assert_eq!(free(client, &account).await, before, "the expired job refunded everything");
}

#[tokio::test]
async fn solidity_and_ink_dapps_buy_completions_and_read_lineage() {
	let solidity = code("LineageDapp.bin");
	let ink = code("lineage_dapp.polkavm");
	let (node, client) = DevNode::start().await;
	let fx = Fixture::write("contracts");
	let (oracle, setup) = start_with_setup(&node, &client, &fx).await;
	let watcher = JobWatcher::start(&client).await;
	dapp_buys_a_completion(&client, &watcher, &setup, &oracle, "Solidity", solidity).await;
	dapp_buys_a_completion(&client, &watcher, &setup, &oracle, "ink!", ink).await;
}

/// `eth-rpc` in front of the node, killed when dropped.
struct EthRpc {
	child: Child,
	url: String,
}

impl Drop for EthRpc {
	fn drop(&mut self) {
		let _ = self.child.kill();
		let _ = self.child.wait();
	}
}

fn start_eth_rpc(node: &DevNode, log: &Path) -> EthRpc {
	let port = free_port();
	let out = std::fs::File::create(log).expect("eth-rpc log");
	let child = Command::new("eth-rpc")
		.args(["--node-rpc-url", &node.url, "--rpc-port", &port.to_string(), "--dev"])
		.stdout(out.try_clone().expect("log"))
		.stderr(out)
		.spawn()
		.unwrap_or_else(|e| {
			panic!("cannot start eth-rpc ({e}): install pallet-revive-eth-rpc 0.24.0 with scripts/setup")
		});
	EthRpc { child, url: format!("http://127.0.0.1:{port}") }
}

#[tokio::test]
async fn viem_reads_an_adapters_lineage_through_eth_rpc() {
	let script =
		Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts/solidity/read-lineage.mjs");
	assert!(
		Path::new(env!("CARGO_MANIFEST_DIR"))
			.join("../../contracts/solidity/node_modules/viem")
			.is_dir(),
		"viem is not installed: run scripts/contracts (scripts/test runs it)"
	);
	let (node, client) = DevNode::start().await;
	let fx = Fixture::write("eth-rpc");
	let (_oracle, setup) = start_with_setup(&node, &client, &fx).await;
	let log = fx.dir.join("eth-rpc.log");
	let rpc = start_eth_rpc(&node, &log);
	let (_, adapter) = setup.adapters[1].clone();
	// eth-rpc needs a moment to connect and index: retry until it answers.
	let deadline = Instant::now() + Duration::from_secs(90);
	let out = loop {
		let out = Command::new("node")
			.arg(&script)
			.args(["--rpc", &rpc.url, "--adapter", &adapter.to_string()])
			.stdout(Stdio::piped())
			.stderr(Stdio::piped())
			.output()
			.expect("node runs");
		if out.status.success() {
			break out;
		}
		assert!(
			Instant::now() < deadline,
			"viem could not read the lineage: {}\neth-rpc log:\n{}",
			String::from_utf8_lossy(&out.stderr),
			std::fs::read_to_string(&log).unwrap_or_default()
		);
		tokio::time::sleep(Duration::from_secs(1)).await;
	};
	let line = String::from_utf8(out.stdout).expect("UTF-8");
	println!("viem through eth-rpc: {}", line.trim());
	let json: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON line");
	assert_eq!(json["adapter"], adapter);
	assert_eq!(json["baseModel"], setup.model);
	assert_eq!(json["hasParent"], true, "adapter-1's parent is adapter-0");
	assert_eq!(json["parent"], setup.adapters[0].1);
	assert_eq!(json["datanets"], serde_json::json!([setup.datanet]));
	assert_eq!(json["weightsPpb"], serde_json::json!([1_000_000_000u32]));
	assert_eq!(json["per1kInput"], DEMO_PRICE.0.to_string());
	assert_eq!(json["per1kOutput"], DEMO_PRICE.1.to_string());
	let dave = format!("{:?}", contracts::address_of(&dev::dave()));
	assert_eq!(json["author"].as_str().map(str::to_lowercase), Some(dave));
}

mod precompile {
	alloy_core::sol!("../../contracts/ILineage.sol");
}

/// The precompile's address: `AddressMatcher::Fixed(0x0C00)`.
fn precompile_address() -> H160 {
	let mut address = [0u8; 20];
	address[16] = 0x0C;
	H160(address)
}

#[tokio::test]
async fn kill_9_while_answering_jobs_neither_loses_nor_repeats_one() {
	let (node, client) = DevNode::start().await;
	let fx = Fixture::write("jobs-crash");
	let (mut oracle, setup) = start_with_setup(&node, &client, &fx).await;
	let watcher = JobWatcher::start(&client).await;
	let eve = dev::eve();
	let (_, adapter) = setup.adapters[1].clone();
	// Eve's wallet asks the precompile directly (no dApp in between), three times.
	let mut jobs = Vec::new();
	for prompt in ["What is 2 + 2?", "Name a primary colour.", "Say hello."] {
		jobs.push(request_completion(&client, &eve, adapter, prompt).await);
		if jobs.len() == 1 {
			// Kill the oracle as soon as it has journaled its first answer (while it submits it).
			let deadline = Instant::now() + Duration::from_secs(60);
			while !oracle.log_text().contains("job answered and journaled") {
				assert!(Instant::now() < deadline, "no job answered:\n{}", oracle.log_text());
				tokio::time::sleep(Duration::from_millis(20)).await;
			}
			oracle.kill9_and_restart(&node, &fx);
		}
	}
	let mut charged = 0;
	for &job in &jobs {
		let f = watcher.fulfilled(job, &oracle).await;
		assert_eq!(f.fee, demo_fee(f.input_tokens, f.output_tokens));
		charged += f.fee;
	}
	// Each job ran once: the logs of both runs hold one answer per job.
	let logs: String = (0..=1)
		.map(|run| {
			std::fs::read_to_string(fx.dir.join(format!("oracle-{run}.log"))).unwrap_or_default()
		})
		.collect();
	assert_eq!(
		logs.matches("job answered and journaled").count(),
		jobs.len(),
		"a job was answered twice (or not at all):\n{logs}"
	);
	let second = std::fs::read_to_string(fx.dir.join("oracle-1.log")).unwrap_or_default();
	let resent = second.contains("answer journaled before a restart");
	println!(
		"3 jobs, 1 kill -9 after the first answer was journaled: {}; {charged} units charged",
		if resent {
			"the restart submitted the journaled answer again"
		} else {
			"the answer was already on chain"
		}
	);
}

/// `who` asks the precompile directly for a completion by adapter `adapter`; returns the job id.
async fn request_completion(
	client: &LineageClient,
	who: &subxt_signer::sr25519::Keypair,
	adapter: u32,
	prompt: &str,
) -> u64 {
	let data = precompile::ILineage::requestCompletionCall {
		adapterId: adapter,
		prompt: prompt.into(),
		maxOutputTokens: 8,
		temperatureMilli: 0,
		topPMilli: 1_000,
		seed: 0,
		maxFee: UNIT,
		ttlBlocks: 300,
		operator: Address::ZERO,
	}
	.abi_encode();
	let done = contracts::call(client, who, precompile_address(), data, 0, Limits::default())
		.await
		.unwrap_or_else(|e| panic!("requestCompletion failed: {e}"));
	let requested = done
		.events
		.find_first::<lineage::jobs::events::JobRequested>()
		.expect("a job was requested")
		.expect("decodes");
	assert_eq!(requested.requester, crate::id(who));
	requested.job
}

#[tokio::test]
async fn jobs_requested_together_are_answered_concurrently_and_each_once() {
	let (node, client) = DevNode::start().await;
	let fx = Fixture::write("jobs-concurrent");
	let (oracle, setup) = start_with_setup(&node, &client, &fx).await;
	let watcher = JobWatcher::start(&client).await;
	let (_, adapter) = setup.adapters[1].clone();
	// Five wallets ask at once (one more than the oracle answers at a time, by default).
	let askers = [dev::alice(), dev::bob(), dev::charlie(), dev::dave(), dev::eve()];
	let prompts = ["Say one.", "Say two.", "Say three.", "Say four.", "Say five."];
	let jobs = futures::future::join_all(
		askers.iter().zip(prompts).map(|(who, p)| request_completion(&client, who, adapter, p)),
	)
	.await;
	let mut blocks = std::collections::BTreeSet::new();
	for &job in &jobs {
		let f = watcher.fulfilled(job, &oracle).await;
		assert_eq!(f.fee, demo_fee(f.input_tokens, f.output_tokens));
		blocks.insert(f.block);
	}
	let log = oracle.log_text();
	assert_eq!(
		log.matches("job answered and journaled").count(),
		jobs.len(),
		"a job was answered twice (or not at all):\n{log}"
	);
	assert!(!log.contains("given up"), "a job was given up:\n{log}");
	// Answered one by one, each answer would wait for the previous one's finality (a block
	// each); submitted concurrently with their nonces in order, several share a block.
	assert!(
		blocks.len() < jobs.len(),
		"{} jobs fulfilled in {} blocks: not concurrently\n{log}",
		jobs.len(),
		blocks.len()
	);
	println!("{} jobs requested together, fulfilled in {} blocks", jobs.len(), blocks.len());
}
