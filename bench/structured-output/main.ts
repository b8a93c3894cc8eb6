// Grammar engines for constrained decoding, compared on the served model's real vocabulary: the
// per-token mask cost (a random walk through a JSON-schema grammar: mask, pick an allowed token,
// accept), schema compile time first and cached, and the characters a jump-forward could append.
// Candidates: xgrammar's WASM build (npm @mlc-ai/web-xgrammar, in process) and llguidance (crate,
// C API; built here with cargo into ~/.cache/radixserve/llguidance and driven by
// llguidance-mask.cc). Timings are printed with ratios, never asserted.
//
//   node --import tsx bench/structured-output/main.ts --model-path PATH [--schema FILE] [--skip-llguidance]
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadTokenizer, type ModelTokenizer, tokenBytes } from "@radixserve/core";

const HERE = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    "model-path": { type: "string" },
    schema: { type: "string", default: join(HERE, "schema-person.json") },
    "skip-llguidance": { type: "boolean", default: false },
  },
});
if (!values["model-path"]) throw new Error("--model-path is required (a model directory or .gguf file)");
const tok = await loadTokenizer(values["model-path"]);
const schema = readFileSync(values.schema, "utf8");
const eos = tok.eosTokenId ?? 0;
console.log(`vocabulary ${tok.vocabSize} tokens, eos ${eos}, schema ${values.schema}`);

interface Result {
  compileFirstMs: number;
  compileCachedMs: number;
  maskMeanUs: number;
  maskP50Us: number;
  maskP99Us: number;
  masks: number;
}

function stats(times: number[]): Pick<Result, "maskMeanUs" | "maskP50Us" | "maskP99Us" | "masks"> {
  times.sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(times.length * q))]!;
  return { maskMeanUs: mean, maskP50Us: at(0.5), maskP99Us: at(0.99), masks: times.length };
}

function allowedIds(mask: Int32Array | Uint32Array): number[] {
  const out: number[] = [];
  for (let w = 0; w < mask.length; w++) {
    let x = mask[w]! >>> 0;
    while (x) {
      const low = x & -x;
      out.push(w * 32 + 31 - Math.clz32(low));
      x = (x ^ low) >>> 0;
    }
  }
  return out;
}

// web-xgrammar declares "type": "module" but ships a UMD bundle that calls require(): load a .cjs copy.
async function runXgrammar(t: ModelTokenizer): Promise<Result> {
  const require = createRequire(import.meta.url);
  const src = require.resolve("@mlc-ai/web-xgrammar");
  const copy = join(tmpdir(), "radixserve-web-xgrammar.cjs");
  copyFileSync(src, copy);
  const xgr = require(copy);
  const vocab = Array.from({ length: t.vocabSize }, (_, i) => t.idToToken(i) ?? "");
  const style = t.tokenToId("Ġ") !== undefined ? "byte_level" : "byte_fallback";
  const info = await xgr.TokenizerInfo.createTokenizerInfo(vocab, style, false, t.vocabSize, [eos]);
  const compiler = await xgr.GrammarCompiler.createGrammarCompiler(info, true);
  let t0 = performance.now();
  const compiled = await compiler.compileJSONSchema(schema, false);
  const compileFirstMs = performance.now() - t0;
  t0 = performance.now();
  await compiler.compileJSONSchema(schema, false);
  const compileCachedMs = performance.now() - t0;
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const times: number[] = [];
  for (let run = 0; run < 20; run++) {
    const m = await xgr.GrammarMatcher.createGrammarMatcher(compiled);
    for (let i = 0; i < 200 && !m.isTerminated(); i++) {
      const s = performance.now();
      const mask: Int32Array = await m.getNextTokenBitmask();
      times.push((performance.now() - s) * 1000);
      const ids = allowedIds(mask);
      const pick = i > 40 && ids.includes(eos) ? eos : ids[Math.floor(rand() * ids.length)]!;
      if (!m.acceptToken(pick)) throw new Error(`xgrammar rejected the token it allowed (${pick})`);
    }
  }
  return { compileFirstMs, compileCachedMs, ...stats(times) };
}

/** Builds llguidance (cargo, cached) and the harness, then runs it. */
function runLlguidance(t: ModelTokenizer): Result {
  const root = join(homedir(), ".cache", "radixserve", "llguidance-1.9.1");
  mkdirSync(join(root, "src"), { recursive: true });
  writeFileSync(
    join(root, "Cargo.toml"),
    '[package]\nname = "llg-static"\nversion = "0.1.0"\nedition = "2021"\n[lib]\ncrate-type = ["staticlib"]\npath = "src/lib.rs"\n' +
      '[dependencies]\nllguidance = "=1.9.1"\n[profile.release]\nopt-level = 3\n',
  );
  writeFileSync(join(root, "src", "lib.rs"), "pub use llguidance::ffi::*;\n");
  execFileSync("cargo", ["build", "--release", "--manifest-path", join(root, "Cargo.toml")], {
    stdio: "inherit",
  });
  const header = execFileSync("sh", [
    "-c",
    "ls ~/.cargo/registry/src/*/llguidance-1.9.1/llguidance.h | head -1",
  ])
    .toString()
    .trim();
  const bin = join(root, "mask-bench");
  execFileSync("g++", [
    "-O2",
    "-std=c++17",
    `-I${dirname(header)}`,
    join(HERE, "llguidance-mask.cc"),
    join(root, "target", "release", "libllg_static.a"),
    "-lpthread",
    "-ldl",
    "-lm",
    "-o",
    bin,
  ]);
  const parts: Buffer[] = [Buffer.from(Uint32Array.of(t.vocabSize).buffer)];
  for (let i = 0; i < t.vocabSize; i++) {
    const bytes = t.isAddedToken(i)
      ? Buffer.concat([Buffer.of(0xff), Buffer.from(t.idToToken(i) ?? "")])
      : Buffer.from(tokenBytes(t, i));
    parts.push(Buffer.from(Uint32Array.of(bytes.length).buffer), bytes);
  }
  const vocabFile = join(tmpdir(), "radixserve-llg-vocab.bin");
  writeFileSync(vocabFile, Buffer.concat(parts));
  const out = execFileSync(bin, [vocabFile, values.schema, String(eos)]).toString();
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? Number.NaN);
  return {
    compileFirstMs: num(/compile first ms ([\d.]+)/),
    compileCachedMs: num(/clone \(cached compiled grammar\) ms ([\d.]+)/),
    maskMeanUs: num(/mean (\d+) us/),
    maskP50Us: num(/p50 (\d+) us/),
    maskP99Us: num(/p99 (\d+) us/),
    masks: num(/n=(\d+)/),
  };
}

const rows: [string, Result][] = [["xgrammar (web-xgrammar 0.1.27, WASM)", await runXgrammar(tok)]];
if (!values["skip-llguidance"] && existsSync(join(homedir(), ".cargo")))
  rows.push(["llguidance 1.9.1 (C API, native)", runLlguidance(tok)]);
const base = rows[0]![1];
console.log(
  "engine | compile first ms | cached ms | mask mean us | p50 us | p99 us | masks | mean vs xgrammar",
);
for (const [name, r] of rows)
  console.log(
    `${name} | ${r.compileFirstMs.toFixed(1)} | ${r.compileCachedMs.toFixed(3)} | ${r.maskMeanUs.toFixed(0)} | ` +
      `${r.maskP50Us.toFixed(0)} | ${r.maskP99Us.toFixed(0)} | ${r.masks} | ${(r.maskMeanUs / base.maskMeanUs).toFixed(2)}x`,
  );
