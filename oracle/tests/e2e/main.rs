//! End-to-end tests: the real Lineage runtime wasm on a real `polkadot-omni-node` (dev mode,
//! loopback), reached with the oracle's subxt client. Each test starts its own node.
//! They need `scripts/setup` (the node) and `scripts/chain-spec` (the dev spec); `scripts/test`
//! runs both first.

mod node;
mod registry;
mod transfer;
