// Reads an adapter's lineage and price from the Lineage precompile through an Ethereum JSON-RPC
// endpoint (pallet-revive's `eth-rpc` in front of a Lineage node), with viem, and prints one line
// of JSON:
//   {"chainId":…,"blockNumber":…,"adapter":N,"baseModel":…,"author":"0x…","hasParent":…,
//    "parent":…,"datanets":[…],"versions":[…],"weightsPpb":[…],"per1kInput":"…","per1kOutput":"…"}
// The amounts (`per1k*`, LIN's smallest unit, 10 decimals) are decimal strings; both reads are
// made at block `blockNumber`, the endpoint's latest block when the script started.
//
//   node contracts/solidity/read-lineage.mjs --rpc http://127.0.0.1:8545 --adapter 0
//     [--abi PATH]   the precompile's ABI (default: contracts/build/ILineage.abi.json)
//
// It lives beside build.mjs to share its node_modules (viem): run scripts/contracts first, which
// installs them and writes the ABI. Exits 2 on bad arguments and 1, with a message on stderr,
// when the endpoint cannot be reached or a read reverts (e.g. "UnknownAdapter").

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { BaseError, ContractFunctionRevertedError, createPublicClient, defineChain, http } from "viem";

/** ILineage.sol's LINEAGE_PRECOMPILE (pallet-revive's `AddressMatcher::Fixed(0x0C00)`). */
const LINEAGE_PRECOMPILE = "0x000000000000000000000000000000000c000000";

const here = dirname(fileURLToPath(import.meta.url));
const USAGE = "usage: node read-lineage.mjs --rpc http://127.0.0.1:PORT --adapter N [--abi PATH]";

function usage(message) {
  console.error(`read-lineage: ${message}\n${USAGE}`);
  process.exit(2);
}

/** The reason a viem error carries: a revert's `Error(string)` reason, or its short message
 *  with the root cause (e.g. "connect ECONNREFUSED 127.0.0.1:8545"). */
function reasonOf(error) {
  let root = error;
  while (root?.cause) root = root.cause;
  const cause = root && root !== error && root.message ? ` (${root.message})` : "";
  if (error instanceof BaseError) {
    const revert = error.walk((e) => e instanceof ContractFunctionRevertedError);
    if (revert) {
      const name = revert.data?.errorName;
      const args = revert.data?.args?.map(String).join(", ");
      return `reverted: ${revert.reason ?? (name ? `${name}(${args ?? ""})` : revert.shortMessage)}`;
    }
    return error.shortMessage + cause;
  }
  return (error?.message ?? String(error)) + cause;
}

let args;
try {
  ({ values: args } = parseArgs({
    options: { rpc: { type: "string" }, adapter: { type: "string" }, abi: { type: "string" } },
    strict: true,
  }));
} catch (e) {
  usage(e.message);
}
if (!args.rpc) usage("--rpc is required");
if (!/^https?:\/\//.test(args.rpc)) usage(`--rpc ${args.rpc} is not an http(s):// URL`);
if (!/^\d+$/.test(args.adapter ?? "") || Number(args.adapter) > 0xffffffff) {
  usage(`--adapter must be an adapter id (a u32), got ${args.adapter ?? "nothing"}`);
}
const adapter = Number(args.adapter);

const abiPath = args.abi ?? join(here, "..", "build", "ILineage.abi.json");
let abi;
try {
  abi = JSON.parse(readFileSync(abiPath, "utf8"));
} catch (e) {
  console.error(`read-lineage: cannot read the ABI at ${abiPath} (run scripts/contracts): ${e.message}`);
  process.exit(1);
}

try {
  // The chain's id, from eth_chainId, then a client for that chain.
  const chainId = await createPublicClient({ transport: http(args.rpc) }).getChainId();
  const chain = defineChain({
    id: chainId,
    name: "Lineage",
    nativeCurrency: { name: "LIN", symbol: "LIN", decimals: 18 },
    rpcUrls: { default: { http: [args.rpc] } },
  });
  const client = createPublicClient({ chain, transport: http(args.rpc) });

  const blockNumber = await client.getBlockNumber();
  const read = (functionName) =>
    client.readContract({ address: LINEAGE_PRECOMPILE, abi, functionName, args: [adapter], blockNumber });
  const [baseModel, author, hasParent, parent, datanets, versions, weightsPpb] = await read("adapterLineage");
  const [per1kInput, per1kOutput] = await read("adapterPrice");

  console.log(
    JSON.stringify({
      chainId,
      blockNumber: Number(blockNumber),
      adapter,
      baseModel,
      author,
      hasParent,
      parent,
      datanets: [...datanets],
      versions: [...versions],
      weightsPpb: [...weightsPpb],
      per1kInput: per1kInput.toString(),
      per1kOutput: per1kOutput.toString(),
    }),
  );
} catch (e) {
  console.error(`read-lineage: adapter ${adapter} via ${args.rpc}: ${reasonOf(e)}`);
  process.exit(1);
}
