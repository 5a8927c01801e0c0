#!/usr/bin/env node
// A `solc` command-line front end for solc-js (npm `solc`), so that py-solc-x, brownie and slither,
// which expect the native binary, compile offline with the pinned compiler from node_modules.
//
// Supported:  --version | -v
//             --standard-json [--base-path P] [--include-path P]... [--allow-paths ...]   (stdin -> stdout)
//             FILE... [prefix=target]... --combined-json KEYS [--evm-version V] [--optimize]
//                     [--optimize-runs N] [--base-path P] [--include-path P]... [--allow-paths ...]
// Imports are resolved by remapping (longest prefix wins), then against the base path, each include
// path, the working directory and ./node_modules.  Output is written in full before the process exits.
"use strict";
const fs = require("fs");
const path = require("path");

const projectRoot = path.resolve(__dirname, "..", "..");
const solc = require(path.join(projectRoot, "node_modules", "solc"));

function die(message, code = 1) {
  process.stderr.write(`Error: ${message}\n`, () => process.exit(code));
}

function writeAndExit(text, code = 0) {
  // Exiting before the pipe drains truncates output at the pipe buffer size (64 KiB).
  process.stdout.write(text, () => process.exit(code));
}

function nativeVersion() {
  // solc-js reports "...Emscripten.clang"; tools only parse the semantic version and commit.
  return solc.version().replace("Emscripten.clang", "Linux.g++");
}

function parseArgs(argv) {
  const opts = { files: [], remappings: [], includePaths: [], basePath: null, combined: null,
    standardJson: false, version: false, evmVersion: null, optimize: false, optimizeRuns: 200 };
  const withValue = new Set(["--base-path", "--include-path", "--allow-paths", "--combined-json",
    "--evm-version", "--optimize-runs", "--output-dir", "-o"]);
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value = null;
    if (arg.startsWith("--") && arg.includes("=") && withValue.has(arg.split("=")[0])) {
      [arg, value] = [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)];
    } else if (withValue.has(arg)) {
      value = argv[++i];
    }
    switch (arg) {
      case "--version": case "-v": opts.version = true; break;
      case "--standard-json": opts.standardJson = true; break;
      case "--base-path": opts.basePath = value; break;
      case "--include-path": opts.includePaths.push(value); break;
      case "--allow-paths": break; // solc-js reads through our callback; nothing to allow
      case "--combined-json": opts.combined = value.split(","); break;
      case "--evm-version": opts.evmVersion = value; break;
      case "--optimize": opts.optimize = true; break;
      case "--optimize-runs": opts.optimizeRuns = parseInt(value, 10); break;
      case "--no-color": case "--pretty-json": case "--metadata-literal": break;
      default:
        if (arg.startsWith("-")) return die(`unsupported option ${arg} (solc-js wrapper)`);
        if (arg.includes("=") && !fs.existsSync(arg)) opts.remappings.push(arg);
        else opts.files.push(arg);
    }
  }
  return opts;
}

function makeResolver(remappings, basePath, includePaths) {
  const parsed = remappings.map((r) => {
    const body = r.includes(":") ? r.slice(r.indexOf(":") + 1) : r; // drop context
    const eq = body.indexOf("=");
    return { prefix: body.slice(0, eq), target: body.slice(eq + 1) };
  }).sort((a, b) => b.prefix.length - a.prefix.length);
  const roots = [basePath, ...includePaths, process.cwd(), path.join(process.cwd(), "node_modules"),
    path.join(projectRoot, "node_modules")].filter(Boolean);
  return function findImports(importPath) {
    let candidate = importPath;
    for (const { prefix, target } of parsed) {
      if (prefix && importPath.startsWith(prefix)) {
        candidate = target + importPath.slice(prefix.length);
        break;
      }
    }
    const tries = path.isAbsolute(candidate) ? [candidate] : roots.map((root) => path.resolve(root, candidate));
    for (const file of tries) {
      try {
        return { contents: fs.readFileSync(file, "utf8") };
      } catch (_) { /* try the next root */ }
    }
    return { error: `File not found: ${importPath} (looked in ${tries.join(", ")})` };
  };
}

function readStdin() {
  return fs.readFileSync(0, "utf8");
}

function standardJson(opts) {
  const input = JSON.parse(readStdin());
  const remappings = (input.settings && input.settings.remappings) || [];
  const findImports = makeResolver([...remappings, ...opts.remappings], opts.basePath, opts.includePaths);
  writeAndExit(solc.compile(JSON.stringify(input), { import: findImports }));
}

const COMBINED_SELECTION = {
  abi: ["abi"], bin: ["evm.bytecode.object"], "bin-runtime": ["evm.deployedBytecode.object"],
  srcmap: ["evm.bytecode.sourceMap"], "srcmap-runtime": ["evm.deployedBytecode.sourceMap"],
  userdoc: ["userdoc"], devdoc: ["devdoc"], hashes: ["evm.methodIdentifiers"], metadata: ["metadata"],
  "storage-layout": ["storageLayout"], ast: [], "compact-format": [],
};

function combinedJson(opts) {
  const sources = {};
  for (const file of opts.files) sources[file] = { content: fs.readFileSync(file, "utf8") };
  const outputs = new Set();
  for (const key of opts.combined) {
    if (!(key in COMBINED_SELECTION)) return die(`unsupported --combined-json key ${key} (solc-js wrapper)`);
    COMBINED_SELECTION[key].forEach((o) => outputs.add(o));
  }
  const settings = { remappings: opts.remappings, outputSelection: { "*": { "*": [...outputs], "": ["ast"] } },
    optimizer: { enabled: opts.optimize, runs: opts.optimizeRuns } };
  if (opts.evmVersion) settings.evmVersion = opts.evmVersion;
  const findImports = makeResolver(opts.remappings, opts.basePath, opts.includePaths);
  const out = JSON.parse(solc.compile(JSON.stringify({ language: "Solidity", sources, settings }), { import: findImports }));
  const errors = (out.errors || []).filter((e) => e.severity === "error");
  for (const e of out.errors || []) process.stderr.write(`${e.formattedMessage || e.message}\n`);
  if (errors.length) return process.stderr.write("", () => process.exit(1));
  const contracts = {};
  for (const [file, byName] of Object.entries(out.contracts || {})) {
    for (const [name, c] of Object.entries(byName)) {
      const evm = c.evm || {};
      const entry = {};
      if (opts.combined.includes("abi")) entry.abi = c.abi;
      if (opts.combined.includes("bin")) entry.bin = evm.bytecode && evm.bytecode.object;
      if (opts.combined.includes("bin-runtime")) entry["bin-runtime"] = evm.deployedBytecode && evm.deployedBytecode.object;
      if (opts.combined.includes("srcmap")) entry.srcmap = evm.bytecode && evm.bytecode.sourceMap;
      if (opts.combined.includes("srcmap-runtime")) entry["srcmap-runtime"] = evm.deployedBytecode && evm.deployedBytecode.sourceMap;
      if (opts.combined.includes("userdoc")) entry.userdoc = c.userdoc;
      if (opts.combined.includes("devdoc")) entry.devdoc = c.devdoc;
      if (opts.combined.includes("hashes")) entry.hashes = evm.methodIdentifiers;
      if (opts.combined.includes("metadata")) entry.metadata = c.metadata;
      if (opts.combined.includes("storage-layout")) entry["storage-layout"] = c.storageLayout;
      contracts[`${file}:${name}`] = entry;
    }
  }
  const result = { contracts, version: nativeVersion() };
  if (opts.combined.includes("ast")) {
    result.sources = {};
    result.sourceList = Object.keys(out.sources || {});
    for (const [file, s] of Object.entries(out.sources || {})) result.sources[file] = { AST: s.ast, id: s.id };
  }
  writeAndExit(JSON.stringify(result));
}

const opts = parseArgs(process.argv.slice(2));
if (opts.version) {
  writeAndExit(`solc, the solidity compiler commandline interface\nVersion: ${nativeVersion()}\n`);
} else if (opts.standardJson) {
  standardJson(opts);
} else if (opts.combined && opts.files.length) {
  combinedJson(opts);
} else {
  die("usage: solc --version | --standard-json | FILE... --combined-json KEYS (solc-js wrapper)");
}
