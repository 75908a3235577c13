//! Steps 3 and 5–7 of the Lineage path on the real chain: a payer funds escrow with an operator,
//! the operator's key signs a usage batch that is submitted through subxt, the batch is settled
//! after the dispute window, the fee is split by the genesis policy, and a data contributor and
//! the adapter's author claim exactly their shares.

use crate::{bytes, id, node::DevNode, UNIT};
use lineage_chain::{
	lineage::{
		self,
		runtime_types::{
			bounded_collections::bounded_vec::BoundedVec, lineage_primitives::DatanetVersionRef,
			pallet_datanets::ContributionPolicy, pallet_models::Price,
			sp_arithmetic::per_things::Perbill,
		},
	},
	submit_and_finalize, LineageClient,
};
use lineage_oracle::chain::proofs::{to_wire, vouchers_to_wire, WireVouchers};
use lineage_primitives::usage::{
	records_root, signing_payload, MatchedShare, RecordMatch, Share, UsageBatch, UsageEntry,
	UsageRecord,
};
use polkadot_sdk::sp_crypto_hashing::sha2_256;
use std::str::FromStr;
use subxt::{config::substrate::H256, utils::AccountId32};
use subxt_signer::{
	sr25519::{dev, Keypair},
	SecretUri,
};

/// `signer`'s voucher naming `payer`, with spend limit `limit`, for `operator` on the chain with
/// `genesis`, signed the way a browser wallet's `signRaw` signs (`<Bytes>`-wrapped).
fn voucher(
	signer: &Keypair,
	payer: &AccountId32,
	operator: &AccountId32,
	genesis: [u8; 32],
	limit: u128,
) -> WireVouchers {
	let body = br#"{"model":"m","messages":[]}"#;
	let request = lineage_chain::payer::RequestToSign {
		method: "POST",
		path: "/v1/chat/completions",
		body,
		timestamp_ms: 1_700_000_000_000,
		nonce: 7,
		spend_limit: limit,
	};
	let auth = lineage_chain::payer::authorization(genesis, operator.0, payer.0, &request);
	let signature = signer.sign(&auth.wrapped_message());
	let signature = lineage_primitives::payer::sr25519_signature(signature.0);
	let voucher = lineage_primitives::payer::Voucher::signed(auth, true, signature);
	vouchers_to_wire(&[voucher])
}

/// The account as `lineage-primitives` (and so the pallet) encodes it.
fn primitive(who: &AccountId32) -> lineage_primitives::AccountId {
	lineage_primitives::AccountId::new(who.0)
}

/// Waits until the best finalized block is at least `number`.
async fn wait_for_block(client: &LineageClient, number: u32) {
	for _ in 0..120 {
		let at = client.at_current_block().await.expect("current block");
		if at.block_number() as u32 >= number {
			return;
		}
		tokio::time::sleep(std::time::Duration::from_millis(500)).await;
	}
	panic!("the chain did not reach block {number} in 60 s");
}

#[tokio::test]
async fn a_signed_usage_batch_settles_and_contributors_claim_their_share() {
	let (node, client) = DevNode::start().await;
	let (alice, bob, charlie, dave, eve, ferdie) =
		(dev::alice(), dev::bob(), dev::charlie(), dev::dave(), dev::eve(), dev::ferdie());
	let oracle_key = Keypair::from_uri(&SecretUri::from_str("//EveOracle").unwrap()).unwrap();

	// Registries: an open datanet with Bob (3 tokens) and Ferdie (9 tokens) accepted at
	// the default quality, frozen into version 1; Charlie's base model; Dave's adapter on v1.
	let datanet = submit!(
		node,
		client,
		lineage::tx().datanets().create_datanet(
			bytes("usage-e2e"),
			bytes("ipfs://usage"),
			bytes("CC-BY-4.0"),
			ContributionPolicy::Open,
		),
		&alice
	)
	.events
	.find_first::<lineage::datanets::events::DatanetCreated>()
	.expect("DatanetCreated")
	.expect("decode DatanetCreated")
	.datanet;
	for (who, record, tokens) in [(&bob, b"bob's record", 3u32), (&ferdie, b"ferdie's rec", 9)] {
		let hash = H256(sha2_256(record));
		submit!(
			node,
			client,
			lineage::tx().datanets().contribute(datanet, hash, record.len() as u32, tokens, None),
			who
		);
	}
	submit!(node, client, lineage::tx().datanets().freeze_version(datanet), &alice);
	let model = submit!(
		node,
		client,
		lineage::tx().models().register_model(
			H256(sha2_256(b"usage base model")),
			bytes("llama"),
			bytes("Apache-2.0"),
			bytes("hf://base")
		),
		&charlie
	)
	.events
	.find_first::<lineage::models::events::ModelRegistered>()
	.expect("ModelRegistered")
	.expect("decode ModelRegistered")
	.model;
	let adapter = submit!(
		node,
		client,
		lineage::tx().models().register_adapter(
			model,
			None,
			H256(sha2_256(b"usage adapter")),
			8,
			BoundedVec(vec![bytes("q_proj")]),
			Price { per_1k_input: UNIT / 100, per_1k_output: UNIT / 50 },
			bytes("Apache-2.0"),
			bytes("ipfs://adapter"),
			BoundedVec(vec![(DatanetVersionRef { datanet, version: 1 }, Perbill(1_000_000_000))]),
		),
		&dave
	)
	.events
	.find_first::<lineage::models::events::AdapterRegistered>()
	.expect("AdapterRegistered")
	.expect("decode AdapterRegistered")
	.adapter;

	// Eve registers as an operator with a separate signing key; Alice funds escrow with her.
	submit!(
		node,
		client,
		lineage::tx()
			.usage()
			.register_operator(oracle_key.public_key().0, bytes("http://127.0.0.1:8080")),
		&eve
	);
	submit!(node, client, lineage::tx().usage().deposit_escrow(id(&eve), 100 * UNIT), &alice);

	// Three requests of Alice's on Dave's adapter, served at the current finalized block,
	// journaled and aggregated into one entry.
	let served_at =
		client.at_current_block().await.expect("the finalized block").block_number() as u32;
	let records: Vec<UsageRecord<lineage_primitives::AccountId>> = (0u8..3)
		.map(|i| UsageRecord {
			request_id: H256::repeat_byte(i + 1),
			payer: primitive(&id(&alice)),
			adapter,
			input_tokens: 4_000,
			output_tokens: 1_000 + 1_000 * u64::from(i % 2),
			response_hash: H256(sha2_256(&[i])),
			finished_at_ms: 1_700_000_000_000 + u64::from(i),
			served_at,
			// Each answer's attribution: half of it from Ferdie's record, a fifth (the chain
			// must refuse to pay it) credited to Charlie, who has no weight in the datanet.
			matched: vec![
				RecordMatch {
					datanet,
					version: 1,
					contributor: primitive(&id(&ferdie)),
					share: Share::from_percent(50),
				},
				RecordMatch {
					datanet,
					version: 1,
					contributor: primitive(&id(&charlie)),
					share: Share::from_percent(20),
				},
			],
		})
		.collect();
	let batch = UsageBatch {
		operator: primitive(&id(&eve)),
		sequence: 0,
		served_from: served_at,
		served_to: served_at,
		entries: vec![UsageEntry {
			payer: primitive(&id(&alice)),
			adapter,
			requests: 3,
			input_tokens: records.iter().map(|r| r.input_tokens).sum(),
			output_tokens: records.iter().map(|r| r.output_tokens).sum(),
		}],
		records_root: records_root(&records),
		// The records' matches, aggregated: Ferdie half the fee, Charlie a fifth.
		matched: {
			let share = |who: &Keypair, percent| MatchedShare {
				adapter,
				datanet,
				version: 1,
				contributor: primitive(&id(who)),
				share: Share::from_percent(percent),
			};
			let mut shares = vec![share(&ferdie, 50), share(&charlie, 20)];
			shares.sort_by(|a, b| a.key().cmp(&b.key()));
			shares
		},
	};
	// fee = (12,000 × UNIT/100 + 4,000 × UNIT/50) / 1,000 = 0.2 UNIT.
	let fee = UNIT / 5;
	let genesis = client.genesis_hash();
	let signature = oracle_key.sign(&signing_payload(&genesis, &batch));
	// The operator cannot charge Alice on a voucher it signed itself, nor beyond the limit
	// Alice signed: the runtime checks her sr25519 signature (wrapped, as signRaw signs).
	let (alice_id, eve_id) = (id(&alice), id(&eve));
	let forged_voucher = voucher(&oracle_key, &alice_id, &eve_id, genesis.0, u128::MAX);
	let low_voucher = voucher(&alice, &alice_id, &eve_id, genesis.0, fee - 1);
	for (vouchers, error) in [(forged_voucher, "BadVoucher"), (low_voucher, "SpendLimitExceeded")] {
		let refused = submit_and_finalize(
			&client,
			&lineage::tx().usage().submit_usage(to_wire(&batch), signature.0, vouchers),
			&ferdie,
		)
		.await;
		let message = refused.err().expect("a batch beyond the payer's voucher").to_string();
		assert!(message.contains(error), "expected {error}: {message}");
	}
	let alice_voucher = || voucher(&alice, &alice_id, &eve_id, genesis.0, fee);
	let submitted = submit!(
		node,
		client,
		lineage::tx().usage().submit_usage(to_wire(&batch), signature.0, alice_voucher()),
		&ferdie
	);
	let event = submitted
		.events
		.find_first::<lineage::usage::events::UsageSubmitted>()
		.expect("UsageSubmitted")
		.expect("decode UsageSubmitted");
	assert_eq!((event.sequence, event.entries, event.total_fee), (0, 1, fee));
	assert_eq!(event.records_root, records_root(&records));

	// The same batch again is a replay; a batch signed by another key is forged.
	let replay = submit_and_finalize(
		&client,
		&lineage::tx().usage().submit_usage(to_wire(&batch), signature.0, alice_voucher()),
		&ferdie,
	)
	.await;
	let message = replay.err().expect("a replayed batch is refused").to_string();
	assert!(message.contains("SequenceMismatch"), "unexpected error: {message}");
	let mut next = batch.clone();
	next.sequence = 1;
	let forged = dev::bob().sign(&signing_payload(&genesis, &next));
	let forged = submit_and_finalize(
		&client,
		&lineage::tx().usage().submit_usage(to_wire(&next), forged.0, alice_voucher()),
		&ferdie,
	)
	.await;
	let message = forged.err().expect("a forged batch is refused").to_string();
	assert!(message.contains("BadSignature"), "unexpected error: {message}");
	// A genuine next batch on the same voucher: Alice signed for one fee in total, not two.
	let genuine = oracle_key.sign(&signing_payload(&genesis, &next));
	let again = submit_and_finalize(
		&client,
		&lineage::tx().usage().submit_usage(to_wire(&next), genuine.0, alice_voucher()),
		&ferdie,
	)
	.await;
	let message = again.err().expect("a second charge on a spent voucher").to_string();
	assert!(message.contains("SpendLimitExceeded"), "unexpected error: {message}");

	// Settlement after the dispute window (10 blocks on this runtime).
	let submitted_at =
		client.at_block(submitted.block_hash).await.expect("block").block_number() as u32;
	wait_for_block(&client, submitted_at + 10).await;
	let settled = submit!(node, client, lineage::tx().usage().settle_batch(id(&eve), 0), &ferdie);
	let split = settled
		.events
		.find_first::<lineage::attribution::events::FeesSplit>()
		.expect("FeesSplit")
		.expect("decode FeesSplit");
	// The genesis policy: author 40%, base owner 15%, datanets 30%, operator 10%, treasury 5%;
	// half the datanets' share pays the matched contributors: Ferdie gets half of that half.
	// Charlie's share credits nobody and stays with the weights.
	let matched = fee * 30 / 100 / 2 / 2;
	assert_eq!(split.fee, fee);
	assert_eq!(
		(
			split.author,
			split.base_owner,
			split.datanets,
			split.matched,
			split.operator,
			split.treasury
		),
		(
			fee * 40 / 100,
			fee * 15 / 100,
			fee * 30 / 100 - matched,
			matched,
			fee * 10 / 100,
			fee * 5 / 100
		)
	);
	let paid: Vec<_> = settled
		.events
		.find::<lineage::attribution::events::MatchedPaid>()
		.map(|e| e.expect("decode MatchedPaid"))
		.map(|e| (e.contributor, e.datanet, e.version, e.amount))
		.collect();
	assert_eq!(paid, vec![(id(&ferdie), datanet, 1, matched)]);

	// Bob holds 3 of version 1's 12 weight: a quarter of what the weights pay.
	let bob_share = (fee * 30 / 100 - matched) / 4;
	let at = client.at_current_block().await.expect("current block");
	let pending = at
		.runtime_apis()
		.call(lineage::runtime_apis().attribution_api().pending_rewards(id(&bob)))
		.await
		.expect("AttributionApi_pending_rewards");
	assert_eq!(pending.versions, vec![(datanet, 1, bob_share)]);
	assert_eq!(pending.as_contributor, 0, "Bob's records matched no answer");
	let ferdie_pending = at
		.runtime_apis()
		.call(lineage::runtime_apis().attribution_api().pending_rewards(id(&ferdie)))
		.await
		.expect("AttributionApi_pending_rewards");
	assert_eq!(ferdie_pending.as_contributor, matched);
	assert_eq!(ferdie_pending.versions, vec![(datanet, 1, (fee * 30 / 100 - matched) * 3 / 4)]);
	let charlie_pending = at
		.runtime_apis()
		.call(lineage::runtime_apis().attribution_api().pending_rewards(id(&charlie)))
		.await
		.expect("AttributionApi_pending_rewards");
	assert_eq!(charlie_pending.as_contributor, 0, "no weight in the datanet, no matched pay");
	let claimed = submit!(node, client, lineage::tx().attribution().claim(datanet, 1), &bob)
		.events
		.find_first::<lineage::attribution::events::RewardClaimed>()
		.expect("RewardClaimed")
		.expect("decode RewardClaimed");
	assert_eq!(claimed.amount, bob_share);
	let credits = submit!(node, client, lineage::tx().attribution().claim_credits(), &dave)
		.events
		.find_first::<lineage::attribution::events::CreditsClaimed>()
		.expect("CreditsClaimed")
		.expect("decode CreditsClaimed");
	assert_eq!(credits.amount, fee * 40 / 100);

	// Alice's escrow with Eve is what she deposited less the fee.
	let escrow = client
		.at_current_block()
		.await
		.expect("current block")
		.storage()
		.fetch(lineage::storage().usage().escrows(), (id(&alice), id(&eve)))
		.await
		.expect("Usage::Escrows")
		.decode()
		.expect("decode EscrowInfo");
	assert_eq!(escrow.balance, 100 * UNIT - fee);
}
