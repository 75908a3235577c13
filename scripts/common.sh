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

# The node release this runtime is built for.
OMNI_NODE_VERSION="0.24.0"
# What `polkadot-omni-node --version` prints for that release.
OMNI_NODE_VERSION_PRINTED="1.25.1"

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
