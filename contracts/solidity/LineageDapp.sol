// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {ILineage, LINEAGE_PRECOMPILE} from "../ILineage.sol";

/// An example dApp that buys inference from Lineage through its precompile.
///
/// The contract itself is the requester the chain sees: it pays each job's fee from its own
/// balance (the chain holds `maxFee` plus a storage deposit while the job runs and refunds what
/// is not charged), and only it may take the job's output. Fund it when deploying it, or later
/// by sending it value (`receive`).
///
/// Amounts passed to the precompile (`maxFee`, and the `fee` that `status` returns) are in LIN's
/// smallest unit (10 decimals), while `msg.value` and `address(this).balance` in the EVM are in
/// 18-decimal "wei" (1 LIN = 10^18 of them): divide a balance by 10^8 to compare it with a fee.
///
/// Refusals of the precompile revert with `Error(string)` (the pallet's error name, such as
/// "UnknownAdapter" or "NotFulfilled"); the calls below are plain external calls, so those
/// reverts bubble up unchanged to whoever called this contract.
contract LineageDapp {
    /// The deployer: the only account that may spend the contract's balance on requests.
    address public immutable owner;

    /// The id of the last job `ask` requested (0 before the first).
    uint64 public lastJob;

    /// The outputs `collect` took from the chain, by job id (read them with `answer`).
    mapping(uint64 => string) internal answers;

    /// A completion was requested of adapter `adapterId` as job `jobId`.
    event Asked(uint64 indexed jobId, uint32 indexed adapterId);

    /// Job `jobId`'s output was taken from the chain and stored here.
    event Answered(uint64 indexed jobId, string output);

    /// `ask` was called by someone other than the owner.
    error NotOwner();

    /// Deploys the dApp; the value sent with the deployment is its first balance.
    constructor() payable {
        owner = msg.sender;
    }

    /// Requests a greedy completion (temperature 0, top-p off, seed 0) of `prompt` by adapter
    /// `adapterId`, of at most `maxOutputTokens` tokens, paying at most `maxFee` (LIN's smallest
    /// unit) from this contract's balance. Any registered operator may serve it within
    /// `ttlBlocks` blocks. Only the owner may ask. Returns the job's id, also kept in `lastJob`.
    function ask(uint32 adapterId, string calldata prompt, uint32 maxOutputTokens, uint128 maxFee, uint32 ttlBlocks)
        external
        returns (uint64 jobId)
    {
        if (msg.sender != owner) revert NotOwner();
        jobId = ILineage(LINEAGE_PRECOMPILE).requestCompletion(
            adapterId, prompt, maxOutputTokens, 0, 1000, 0, maxFee, ttlBlocks, address(0)
        );
        lastJob = jobId;
        emit Asked(jobId, adapterId);
    }

    /// Takes job `jobId`'s output from the chain (which removes the job and returns its storage
    /// deposit to this contract), stores it in `answers` and returns it. Anyone may call it: the
    /// output is public on chain once the job is fulfilled, and it can be taken only once.
    /// Reverts with the precompile's reason while the job is pending ("NotFulfilled") or when
    /// there is no such job ("UnknownJob", e.g. taken already or expired).
    function collect(uint64 jobId) external returns (string memory output) {
        output = ILineage(LINEAGE_PRECOMPILE).takeOutput(jobId);
        answers[jobId] = output;
        emit Answered(jobId, output);
    }

    /// The output of job `jobId` stored by `collect` (empty when it was not collected).
    function answer(uint64 jobId) external view returns (string memory) {
        return answers[jobId];
    }

    /// Job `jobId`'s state as the chain reports it: 0 = none (never requested, taken or
    /// expired), 1 = pending, 2 = fulfilled; for a fulfilled job its tokens and the fee charged.
    function status(uint64 jobId)
        external
        view
        returns (uint8 state, uint64 inputTokens, uint64 outputTokens, uint128 fee)
    {
        (state,,, inputTokens, outputTokens, fee,) = ILineage(LINEAGE_PRECOMPILE).jobStatus(jobId);
    }

    /// Adapter `adapterId`'s lineage as the chain reports it: base model, author, parent (when
    /// `hasParent`) and the datanet versions it was trained on with their weights (ppb).
    function lineageOf(uint32 adapterId)
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
        )
    {
        return ILineage(LINEAGE_PRECOMPILE).adapterLineage(adapterId);
    }

    /// Accepts value, to top the contract's balance up.
    receive() external payable {}
}
