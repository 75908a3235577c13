// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

// The Lineage precompile: what a contract (or an Ethereum wallet, through eth-rpc) may ask of
// the Lineage chain. It is served by the runtime (`runtime/src/precompiles.rs`), registered in
// pallet-revive as `AddressMatcher::Fixed(0x0C00)`, which puts it at this address.
address constant LINEAGE_PRECOMPILE = 0x000000000000000000000000000000000c000000;

/// Conventions:
/// - Amounts are in LIN's smallest unit (LIN has 10 decimals: 1 LIN = 10^10), not in wei.
///   No function is payable: sending value reverts. Fees are held from the caller's own balance.
/// - The caller is `msg.sender` as the chain sees it: a wallet, or the contract calling. A
///   contract that requests a completion pays for it from its own balance and is the only one
///   that may take its output.
/// - Functions that change state revert in a static call (`staticcall`, a `view` context) and in
///   a delegate call.
/// - Refusals revert with `Error(string)`, the reason being the pallet's error name
///   (e.g. "UnknownAdapter", "FeeCeilingTooLow"). Input that does not decode against this
///   interface (or an unknown selector) reverts with `Panic(0x41)`, before the precompile runs.
/// - Every call is charged its benchmarked weight before it does any work.
interface ILineage {
    /// Asks for a completion of `prompt` (UTF-8, a user message of the adapter's chat) by
    /// adapter `adapterId`, at most `maxOutputTokens` tokens, sampled at `temperatureMilli`/1000
    /// (0 = greedy) with nucleus `topPMilli`/1000 (1000 = off) and `seed`. Holds `maxFee` plus a
    /// storage deposit from the caller. The job expires `ttlBlocks` blocks from now: until then
    /// a registered operator (`operator`, or any when it is the zero address) may fulfil it and
    /// the caller may read and take its output. A fulfilled job charges the adapter's price for
    /// the tokens used (at most `maxFee`, split by attribution) and refunds the rest; an expired
    /// one refunds everything. Returns the job's id.
    function requestCompletion(
        uint32 adapterId,
        string calldata prompt,
        uint32 maxOutputTokens,
        uint32 temperatureMilli,
        uint32 topPMilli,
        uint64 seed,
        uint128 maxFee,
        uint32 ttlBlocks,
        address operator
    ) external returns (uint64 jobId);

    /// A job's state: 0 = none (never requested, taken or expired), 1 = pending, 2 = fulfilled.
    /// For a fulfilled job also its tokens and the fee charged; `expiresAt` is the block at which
    /// the job (and its output) expires.
    function jobStatus(uint64 jobId)
        external
        view
        returns (
            uint8 state,
            address requester,
            uint32 adapterId,
            uint64 inputTokens,
            uint64 outputTokens,
            uint128 fee,
            uint32 expiresAt
        );

    /// The output of a fulfilled job (reverts "NotFulfilled" while it is pending, "UnknownJob"
    /// when there is no such job). Anyone may read it: it is on chain.
    function jobOutput(uint64 jobId) external view returns (string memory output);

    /// Returns a fulfilled job's output and removes the job, releasing its storage deposit to
    /// the requester. Only the requester may take it.
    function takeOutput(uint64 jobId) external returns (string memory output);

    /// Adds `amount` from the caller's balance to its escrow with `operator` (for requests
    /// served off chain, over the oracle's HTTP API).
    function depositEscrow(address operator, uint128 amount) external;

    /// `payer`'s escrow with `operator`.
    function escrowOf(address payer, address operator) external view returns (uint128 balance);

    /// Adapter `adapterId`'s lineage: its base model, author, parent adapter (when `hasParent`)
    /// and the frozen datanet versions it was trained on, with their attribution weights in
    /// parts per billion (summing to 10^9).
    function adapterLineage(uint32 adapterId)
        external
        view
        returns (
            uint32 baseModel,
            address author,
            bool hasParent,
            uint32 parent,
            uint32[] memory datanets,
            uint32[] memory versions,
            uint32[] memory weightsPpb
        );

    /// Adapter `adapterId`'s price in force now, per 1,000 input and per 1,000 output tokens.
    function adapterPrice(uint32 adapterId) external view returns (uint128 per1kInput, uint128 per1kOutput);

    /// What `account` may claim from attribution now: its datanet rewards and its credits as
    /// adapter author, base-model owner and operator, summed.
    function pendingRewards(address account) external view returns (uint128 total);
}
