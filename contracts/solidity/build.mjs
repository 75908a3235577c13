// Compiles the Solidity side of Lineage with the pinned npm `solc` (its standard-JSON API, the
// optimizer on, EVM version cancun, which pallet-revive's EVM interpreter runs) and writes:
//   contracts/build/LineageDapp.bin       the dApp's creation bytecode, raw bytes (not hex)
//   contracts/build/LineageDapp.abi.json  the dApp's ABI
//   contracts/build/ILineage.abi.json     the precompile's ABI (for viem, see read-lineage.mjs)
// Any compiler error fails the build with the compiler's messages; warnings are printed.
// Skips the compiler when the inputs (sources, settings, solc version) are those of the last
// build and the artifacts are still there; `--force` compiles anyway.
//   node contracts/solidity/build.mjs [--force]
// scripts/contracts runs it after installing node_modules.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
/** contracts/: the root of the source unit names, so that "../ILineage.sol" resolves. */
const contractsDir = resolve(here, "..");
const buildDir = join(contractsDir, "build");

/** The sources, by source unit name (a path relative to contracts/). */
const SOURCES = ["ILineage.sol", "solidity/LineageDapp.sol"];

const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "cancun",
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
};

const ARTIFACTS = {
  dappBin: join(buildDir, "LineageDapp.bin"),
  dappAbi: join(buildDir, "LineageDapp.abi.json"),
  lineageAbi: join(buildDir, "ILineage.abi.json"),
};
const STAMP = join(buildDir, ".inputs.sha256");

function fail(message) {
  console.error(`build.mjs: ${message}`);
  process.exit(1);
}

/** Reads an imported file, refusing anything outside contracts/. */
function readSource(name) {
  const path = resolve(contractsDir, name);
  if (path !== contractsDir && !path.startsWith(contractsDir + sep)) {
    throw new Error(`import of ${name} is outside ${contractsDir}`);
  }
  return readFileSync(path, "utf8");
}

/** Writes `data` to `path` unless it holds it already (keeps timestamps of unchanged files). */
function writeIfChanged(path, data) {
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  if (existsSync(path) && readFileSync(path).equals(bytes)) return;
  writeFileSync(path, bytes);
}

const sources = Object.fromEntries(SOURCES.map((name) => [name, { content: readSource(name) }]));
const input = { language: "Solidity", sources, settings: SETTINGS };

// The solc version is part of the inputs: read it from its package.json without loading the
// compiler (loading it takes a second or two, which an up-to-date build skips).
const require = createRequire(import.meta.url);
const solcVersion = JSON.parse(readFileSync(require.resolve("solc/package.json"), "utf8")).version;
const digest = createHash("sha256")
  .update(JSON.stringify({ solcVersion, input, builder: readFileSync(fileURLToPath(import.meta.url)) }))
  .digest("hex");

const force = process.argv.includes("--force");
const upToDate =
  !force &&
  Object.values(ARTIFACTS).every((p) => existsSync(p)) &&
  existsSync(STAMP) &&
  readFileSync(STAMP, "utf8").trim() === digest;
if (upToDate) {
  console.log(`up to date: ${relative(process.cwd(), buildDir) || "."} (solc ${solcVersion})`);
  process.exit(0);
}

const solc = require("solc");
const output = JSON.parse(
  solc.compile(JSON.stringify(input), {
    import: (name) => {
      try {
        return { contents: readSource(name) };
      } catch (e) {
        return { error: e.message };
      }
    },
  }),
);

const diagnostics = output.errors ?? [];
const errors = diagnostics.filter((d) => d.severity === "error");
for (const d of diagnostics.filter((d) => d.severity !== "error")) {
  console.warn(d.formattedMessage ?? d.message);
}
if (errors.length > 0) {
  fail(`solc ${solc.version()} failed:\n${errors.map((d) => d.formattedMessage ?? d.message).join("\n")}`);
}

const dapp = output.contracts?.["solidity/LineageDapp.sol"]?.LineageDapp;
const lineage = output.contracts?.["ILineage.sol"]?.ILineage;
if (!dapp || !lineage) fail("solc's output lacks LineageDapp or ILineage");
const bytecodeHex = dapp.evm.bytecode.object;
if (!/^([0-9a-f]{2})+$/.test(bytecodeHex)) {
  fail("LineageDapp's bytecode is empty or not plain hex (unlinked libraries?)");
}

mkdirSync(buildDir, { recursive: true });
writeIfChanged(ARTIFACTS.dappBin, Buffer.from(bytecodeHex, "hex"));
writeIfChanged(ARTIFACTS.dappAbi, JSON.stringify(dapp.abi, null, 2) + "\n");
writeIfChanged(ARTIFACTS.lineageAbi, JSON.stringify(lineage.abi, null, 2) + "\n");
writeFileSync(STAMP, digest + "\n");

console.log(`solc ${solc.version()} (evmVersion ${SETTINGS.evmVersion}, optimizer on)`);
for (const path of Object.values(ARTIFACTS)) {
  console.log(`  ${relative(process.cwd(), path)} (${readFileSync(path).length} bytes)`);
}
