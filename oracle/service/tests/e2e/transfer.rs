//! A dev account signs a transfer; once it is in a finalized block both balances are exactly
//! what the transfer and its fee say.

use crate::{account_data, node::DevNode, UNIT};
use lineage_chain::{lineage, submit_and_finalize};
use subxt::utils::AccountId32;
use subxt_signer::{sr25519, SecretUri};

#[tokio::test]
async fn signed_transfer_is_finalized_with_exact_balances() {
	let (node, client) = DevNode::start().await;

	let alice = sr25519::dev::alice();
	let alice_id: AccountId32 = alice.public_key().into();
	// A fresh account: the chain's state is new for every run, so it starts empty.
	let recipient =
		sr25519::Keypair::from_uri(&"//Lineage//e2e//recipient".parse::<SecretUri>().unwrap())
			.expect("valid dev derivation");
	let recipient_id: AccountId32 = recipient.public_key().into();
	let amount = 12 * UNIT + 345;

	let transfer = lineage::tx().balances().transfer_keep_alive(recipient_id.into(), amount);
	let done = match submit_and_finalize(&client, &transfer, &alice).await {
		Ok(done) => done,
		Err(e) => panic!("transfer failed: {e}\nnode log:\n{}", node.log_tail()),
	};

	// The fee the runtime actually charged, from its own event.
	let fee = done
		.events
		.find_first::<lineage::transaction_payment::events::TransactionFeePaid>()
		.expect("no TransactionFeePaid event")
		.expect("cannot decode TransactionFeePaid");
	assert_eq!(fee.who, alice_id);
	assert!(fee.actual_fee > 0, "a signed transfer pays a fee");
	let transferred = done
		.events
		.find_first::<lineage::balances::events::Transfer>()
		.expect("no Transfer event")
		.expect("cannot decode Transfer");
	assert_eq!(
		(transferred.from, transferred.to, transferred.amount),
		(alice_id, recipient_id, amount)
	);

	// Balances before (parent block) and after (the finalized block that holds the transfer).
	let block = client.at_block(done.block_hash).await.expect("finalized block not found");
	let parent = client
		.at_block(block.block_number() - 1)
		.await
		.expect("parent block not found")
		.block_hash();
	let alice_before = account_data(&client, parent, &alice_id).await.free;
	let alice_after = account_data(&client, done.block_hash, &alice_id).await.free;
	let recipient_before = account_data(&client, parent, &recipient_id).await.free;
	let recipient_after = account_data(&client, done.block_hash, &recipient_id).await.free;

	assert_eq!(recipient_before, 0);
	assert_eq!(recipient_after, amount);
	assert_eq!(alice_before - alice_after, amount + fee.actual_fee + fee.tip);
	drop(node);
}
