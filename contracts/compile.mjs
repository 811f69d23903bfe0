// Compiles contracts/*.sol with the pinned solc-js and writes one JSON artifact
// (abi + bytecode + compiler settings) per contract into oracle/contracts/.
// Usage: node contracts/compile.mjs [--out DIR] [--source FILE.sol ...]
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
let outDir = path.join(here, "..", "oracle", "contracts");
const extra = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--out") outDir = args[++i];
  else if (args[i] === "--source") extra.push(args[++i]);
  else throw new Error(`unknown argument ${args[i]}`);
}

// py-evm does not run osaka, solc 0.8.3x's default EVM: pin prague.
const SETTINGS = {
  evmVersion: "prague",
  optimizer: { enabled: true, runs: 200 },
  viaIR: false,
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

const files = extra.length
  ? extra
  : fs.readdirSync(here).filter((f) => f.endsWith(".sol")).sort().map((f) => path.join(here, f));
const sources = {};
for (const f of files) sources[path.basename(f)] = { content: fs.readFileSync(f, "utf8") };

function findImports(rel) {
  const p = path.join(here, rel);
  return fs.existsSync(p) ? { contents: fs.readFileSync(p, "utf8") } : { error: `not found: ${rel}` };
}

const out = JSON.parse(
  solc.compile(JSON.stringify({ language: "Solidity", sources, settings: SETTINGS }), { import: findImports }),
);
const errors = (out.errors || []).filter((e) => e.severity === "error");
for (const e of out.errors || []) process.stderr.write(e.formattedMessage + "\n");
if (errors.length) process.exit(1);

fs.mkdirSync(outDir, { recursive: true });
const compiler = solc.version();
for (const [file, contracts] of Object.entries(out.contracts)) {
  if (!(file in sources)) continue; // imported dependency: written by its own file
  for (const [name, c] of Object.entries(contracts)) {
    const artifact = {
      contractName: name,
      sourceName: file,
      compiler,
      settings: { evmVersion: SETTINGS.evmVersion, optimizer: SETTINGS.optimizer },
      abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object,
      deployedBytecode: "0x" + c.evm.deployedBytecode.object,
    };
    fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(artifact, null, 2) + "\n");
    process.stdout.write(`${name}: ${c.evm.deployedBytecode.object.length / 2} bytes\n`);
  }
}
