//! A real `polkadot-omni-node` running the Lineage dev chain, for end-to-end tests.
//!
//! The node runs from the dev chain spec that `scripts/chain-spec` makes (`scripts/test` makes
//! it first) with its state in a temporary folder, RPC on a free loopback port, no peer
//! discovery. It is killed when the [`DevNode`] is dropped.

use std::{
	fs::File,
	net::TcpListener,
	path::{Path, PathBuf},
	process::{Child, Command, Stdio},
	time::{Duration, Instant},
};

use crate::{temp_dir, TempDir};
use lineage_chain::{connect, LineageClient};

/// How long the first finalized block may take: the node compiles the runtime first (25–35 s
/// on 2 cores), then finalizes one block a second.
const FIRST_BLOCK_TIMEOUT: Duration = Duration::from_secs(240);

/// A dev node started for one test.
pub struct DevNode {
	child: Child,
	/// The node's RPC URL.
	pub url: String,
	port: u16,
	log: PathBuf,
	dir: TempDir,
}

fn node_binary() -> PathBuf {
	if let Ok(bin) = std::env::var("LINEAGE_NODE_BIN") {
		return PathBuf::from(bin);
	}
	let path = std::env::var_os("PATH").unwrap_or_default();
	std::env::split_paths(&path)
		.map(|dir| dir.join("polkadot-omni-node"))
		.find(|candidate| candidate.is_file())
		.unwrap_or_else(|| {
			panic!(
				"polkadot-omni-node is not on PATH: run scripts/setup (it installs release 0.24.0)"
			)
		})
}

fn dev_spec() -> PathBuf {
	let spec = std::env::var("LINEAGE_DEV_SPEC").map(PathBuf::from).unwrap_or_else(|_| {
		PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../chain-spec/generated/dev.json")
	});
	assert!(
		spec.is_file(),
		"the dev chain spec {} is missing: run scripts/chain-spec (scripts/test runs it first)",
		spec.display()
	);
	spec
}

fn spawn(bin: &Path, spec: &Path, dir: &Path, port: u16, log: &Path) -> Child {
	let out = File::create(log).expect("cannot create the node log");
	Command::new(bin)
		.arg("--chain")
		.arg(spec)
		.args(["--dev", "--dev-block-time", "1000", "--base-path"])
		.arg(dir.join("data"))
		.args(["--rpc-port", &port.to_string()])
		.args(["--listen-addr", "/ip4/127.0.0.1/tcp/0"])
		.args(["--no-mdns", "--no-prometheus", "--no-telemetry", "--no-hardware-benchmarks"])
		.stdout(Stdio::null())
		.stderr(out)
		.spawn()
		.unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()))
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
	TcpListener::bind("127.0.0.1:0")
		.and_then(|l| l.local_addr())
		.map(|a| a.port())
		.expect("no free loopback port")
}

impl DevNode {
	/// Starts the node and waits until it has finalized its first block.
	pub async fn start() -> (DevNode, LineageClient) {
		let bin = node_binary();
		let spec = dev_spec();
		let port = free_port();
		let dir = temp_dir("e2e-node");
		let log = dir.path().join("node.log");
		let child = spawn(&bin, &spec, dir.path(), port, &log);
		let mut node = DevNode { child, url: format!("ws://127.0.0.1:{port}"), port, log, dir };
		let client = node.wait_until_finalizing().await;
		(node, client)
	}

	/// Stops the node (SIGKILL), keeps it down for `down`, and starts it again on the same port
	/// and database: the chain goes on from its last block.
	pub async fn restart(&mut self, down: Duration) -> LineageClient {
		let _ = self.child.kill();
		let _ = self.child.wait();
		tokio::time::sleep(down).await;
		self.log = self.dir.path().join("node-restarted.log");
		self.child = spawn(&node_binary(), &dev_spec(), self.dir.path(), self.port, &self.log);
		self.wait_until_finalizing().await
	}

	/// The last lines of the node's log, for failure messages.
	pub fn log_tail(&self) -> String {
		let text = std::fs::read_to_string(&self.log).unwrap_or_default();
		let lines: Vec<&str> = text.lines().collect();
		lines[lines.len().saturating_sub(30)..].join("\n")
	}

	async fn wait_until_finalizing(&mut self) -> LineageClient {
		let started = Instant::now();
		loop {
			if let Ok(Some(status)) = self.child.try_wait() {
				panic!("the node exited ({status}); its log:\n{}", self.log_tail());
			}
			if started.elapsed() > FIRST_BLOCK_TIMEOUT {
				panic!(
					"the node finalized no block within {FIRST_BLOCK_TIMEOUT:?}; its log:\n{}",
					self.log_tail()
				);
			}
			if let Ok(client) = connect(&self.url).await {
				if let Ok(at) = client.at_current_block().await {
					if at.block_number() >= 1 {
						return client;
					}
				}
			}
			tokio::time::sleep(Duration::from_millis(500)).await;
		}
	}
}

impl Drop for DevNode {
	fn drop(&mut self) {
		let _ = self.child.kill();
		let _ = self.child.wait();
	}
}
