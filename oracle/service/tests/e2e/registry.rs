//! Steps 1–2 of the Lineage path on the real chain: a datanet is created, contributed to and
//! frozen into versions; a base model and two adapters (a parent and its child) are registered
//! with their training lineage; the lineage is read back through the `LineageApi` runtime API.

use crate::{account_data, bytes, id, node::DevNode, UNIT};
use lineage_chain::{
	lineage::{
		self,
		runtime_types::{
			bounded_collections::bounded_vec::BoundedVec,
			lineage_primitives::DatanetVersionRef,
			pallet_datanets::ContributionPolicy,
			pallet_models::{AdapterStatus, Price},
			sp_arithmetic::per_things::Perbill,
		},
	},
	submit_and_finalize, LineageClient,
};
use polkadot_sdk::sp_crypto_hashing::{blake2_256, sha2_256};
use subxt::{config::substrate::H256, utils::AccountId32};
use subxt_signer::sr25519::dev;

/// `who`'s reserved (held) balance at the latest finalized block.
async fn reserved(client: &LineageClient, who: &AccountId32) -> u128 {
	let block = client.at_current_block().await.expect("current block").block_hash();
	account_data(client, block, who).await.reserved
}

#[tokio::test]
async fn datanet_model_and_adapters_are_registered_and_lineage_reads_back() {
	let (node, client) = DevNode::start().await;
	let (alice, bob, charlie, dave, eve) =
		(dev::alice(), dev::bob(), dev::charlie(), dev::dave(), dev::eve());

	// 1. Alice creates an open datanet; its deposit is held.
	let held_before = reserved(&client, &id(&alice)).await;
	let created = submit!(
		node,
		client,
		lineage::tx().datanets().create_datanet(
			bytes("lineage-e2e-corpus"),
			bytes("ipfs://corpus"),
			bytes("CC-BY-4.0"),
			ContributionPolicy::Open,
		),
		&alice
	);
	let datanet = created
		.events
		.find_first::<lineage::datanets::events::DatanetCreated>()
		.expect("DatanetCreated")
		.expect("decode DatanetCreated")
		.datanet;
	assert_eq!(reserved(&client, &id(&alice)).await - held_before, 10 * UNIT);

	// 2. Bob contributes two records (accepted at once: the datanet is open); Alice freezes v1.
	let records = [b"first record".as_slice(), b"second record".as_slice()];
	let hashes: Vec<H256> = records.iter().map(|r| H256(sha2_256(r))).collect();
	for (record, hash) in records.iter().zip(&hashes) {
		submit!(
			node,
			client,
			lineage::tx().datanets().contribute(
				datanet,
				*hash,
				record.len() as u32,
				record.len() as u32,
				None
			),
			&bob
		);
	}
	let frozen = submit!(node, client, lineage::tx().datanets().freeze_version(datanet), &alice);
	let v1 = frozen
		.events
		.find_first::<lineage::datanets::events::VersionFrozen>()
		.expect("VersionFrozen")
		.expect("decode VersionFrozen");
	// One token per byte at most: 12 + 13 tokens at quality 100.
	assert_eq!((v1.version, v1.records, v1.weight, v1.total_weight), (1, 2, 25, 25));
	// The root over two leaves, written out: blake2(blake2(h1) ‖ blake2(h2)).
	let mut pair = blake2_256(hashes[0].as_bytes()).to_vec();
	pair.extend_from_slice(&blake2_256(hashes[1].as_bytes()));
	assert_eq!(v1.merkle_root, H256(blake2_256(&pair)));

	// A third record and version 2.
	let third = H256(sha2_256(b"third record"));
	submit!(node, client, lineage::tx().datanets().contribute(datanet, third, 12, 10, None), &bob);
	submit!(node, client, lineage::tx().datanets().freeze_version(datanet), &alice);

	// 3. Charlie registers the base model.
	let model_hash = H256(sha2_256(b"base model files"));
	let model = submit!(
		node,
		client,
		lineage::tx().models().register_model(
			model_hash,
			bytes("llama"),
			bytes("Apache-2.0"),
			bytes("hf://SmolLM2-135M")
		),
		&charlie
	)
	.events
	.find_first::<lineage::models::events::ModelRegistered>()
	.expect("ModelRegistered")
	.expect("decode ModelRegistered")
	.model;

	// 4. Dave registers an adapter trained on v1; Eve a child adapter on v1 (40%) and v2 (60%).
	let adapter_hash = lineage_primitives::artifact_hash(&[
		("adapter_config.json", sha2_256(b"{\"r\": 8}")),
		("adapter_model.safetensors", sha2_256(b"weights")),
	]);
	let price = || Price { per_1k_input: UNIT / 100, per_1k_output: UNIT / 50 };
	let v = |version| DatanetVersionRef { datanet, version };
	let parent = submit!(
		node,
		client,
		lineage::tx().models().register_adapter(
			model,
			None,
			H256(adapter_hash.0),
			8,
			BoundedVec(vec![bytes("q_proj"), bytes("v_proj")]),
			price(),
			bytes("Apache-2.0"),
			bytes("ipfs://adapter"),
			BoundedVec(vec![(v(1), Perbill(1_000_000_000))]),
		),
		&dave
	)
	.events
	.find_first::<lineage::models::events::AdapterRegistered>()
	.expect("AdapterRegistered")
	.expect("decode AdapterRegistered")
	.adapter;
	let child_hash = H256(sha2_256(b"child adapter files"));
	let child = submit!(
		node,
		client,
		lineage::tx().models().register_adapter(
			model,
			Some(parent),
			child_hash,
			16,
			BoundedVec(vec![bytes("q_proj"), bytes("k_proj"), bytes("v_proj"), bytes("o_proj")]),
			price(),
			bytes("Apache-2.0"),
			bytes("ipfs://child"),
			BoundedVec(vec![(v(1), Perbill(400_000_000)), (v(2), Perbill(600_000_000))]),
		),
		&eve
	)
	.events
	.find_first::<lineage::models::events::AdapterRegistered>()
	.expect("AdapterRegistered")
	.expect("decode AdapterRegistered")
	.adapter;

	// 5. An adapter citing a version that was never frozen is refused with a named error.
	let refused = submit_and_finalize(
		&client,
		&lineage::tx().models().register_adapter(
			model,
			None,
			H256(sha2_256(b"another adapter")),
			8,
			BoundedVec(vec![bytes("q_proj")]),
			price(),
			bytes("Apache-2.0"),
			bytes("ipfs://x"),
			BoundedVec(vec![(v(3), Perbill(1_000_000_000))]),
		),
		&dave,
	)
	.await;
	let message = refused.err().expect("a version that was never frozen is refused").to_string();
	assert!(message.contains("UnknownVersion"), "unexpected error: {message}");

	// 6. The lineage, read through the runtime API: child, then parent, on Charlie's model.
	let at = client.at_current_block().await.expect("current block");
	let lineage = at
		.runtime_apis()
		.call(lineage::runtime_apis().lineage_api().adapter_lineage(child))
		.await
		.expect("LineageApi_adapter_lineage")
		.expect("the child adapter is registered");
	assert_eq!(lineage.adapter, child);
	assert_eq!((lineage.base_model, lineage.base_model_owner), (model, id(&charlie)));
	assert_eq!(lineage.base_model_artifact, model_hash);
	assert!(matches!(lineage.status, AdapterStatus::Active));
	let chain: Vec<(u32, AccountId32)> =
		lineage.ancestors.iter().map(|n| (n.adapter, n.author)).collect();
	assert_eq!(chain, vec![(child, id(&eve)), (parent, id(&dave))]);
	let weights = |i: usize| -> Vec<(u32, u32, u32)> {
		lineage.ancestors[i].training.iter().map(|(r, w)| (r.datanet, r.version, w.0)).collect()
	};
	assert_eq!(weights(0), vec![(datanet, 1, 400_000_000), (datanet, 2, 600_000_000)]);
	assert_eq!(weights(1), vec![(datanet, 1, 1_000_000_000)]);
	assert_eq!(lineage.ancestors[1].artifact_hash, H256(adapter_hash.0));
	assert_eq!(lineage.ancestors[1].rank, 8);
	drop(node);
}
