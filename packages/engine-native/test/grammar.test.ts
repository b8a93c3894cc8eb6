// llguidance linked into the addon, driven on the default model's real vocabulary (SmolLM2,
// 49,152 byte-level BPE tokens): random walks that at every step take a random token the mask
// allows must end in text the grammar accepts (JSON valid against its schema, a full regex match,
// a sentence of the Lark grammar), and never hit a token the matcher refuses.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { fetchDefaultModel, loadTokenizer, tokenBytes } from "@radixserve/core";
import { EngineError } from "../src/errors.js";
import { type Grammar, GrammarTokenizer, grammarAvailable } from "../src/grammar.js";

let tokenizer: GrammarTokenizer;
let bytesOf: (id: number) => Uint8Array;
let eos: number;

function allowed(mask: Uint32Array): number[] {
  const out: number[] = [];
  for (let w = 0; w < mask.length; w++) {
    let bits = mask[w]!;
    while (bits !== 0) {
      const b = 31 - Math.clz32(bits & -bits);
      out.push(w * 32 + b);
      bits &= bits - 1;
    }
  }
  return out;
}

/** xorshift32: the walks are the same every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

/**
 * One walk: random allowed tokens (not whitespace-only ones, when others are allowed; EOS as soon
 * as it is allowed) until the matcher stops.
 */
function walk(g: Grammar, seed: number, maxSteps = 600): string {
  const m = g.matcher();
  const next = rng(seed);
  const out: number[] = [];
  for (let i = 0; i < maxSteps && !m.stopped; i++) {
    const ids = allowed(m.mask());
    assert.ok(ids.length > 0, "the mask allows some token");
    // JSON allows any amount of whitespace: a uniform walk would mostly write spaces.
    const solid = ids.filter(
      (id) => !bytesOf(id).every((b) => b === 0x20 || b === 0x0a || b === 0x09 || b === 0x0d),
    );
    const pool = solid.length > 0 ? solid : ids;
    const pick = ids.includes(eos) ? eos : pool[Math.floor(next() * pool.length)]!;
    m.accept(pick);
    if (pick !== eos) out.push(pick);
  }
  assert.ok(m.stopped, `the grammar ended within ${maxSteps} tokens`);
  return Buffer.concat(out.map(bytesOf)).toString("utf8");
}

before(async () => {
  const tok = await loadTokenizer(await fetchDefaultModel());
  eos = tok.eosTokenId!;
  bytesOf = (id) => tokenBytes(tok, id);
  tokenizer = new GrammarTokenizer({
    size: tok.vocabSize,
    eos,
    bytes: bytesOf,
    special: (id) => tok.isAddedToken(id),
  });
});

describe("grammar engine (llguidance) on the default model's vocabulary", () => {
  test("the addon is linked with llguidance", () => {
    assert.equal(grammarAvailable(), true);
  });

  test("JSON schema walks produce JSON valid against the schema", () => {
    const schema = {
      type: "object",
      properties: {
        name: { type: "string", maxLength: 12 },
        age: { type: "integer", minimum: 0, maximum: 120 },
        role: { enum: ["admin", "user", "guest"] },
        tags: { type: "array", items: { type: "string", pattern: "^[a-z]{1,5}$" }, maxItems: 3 },
      },
      required: ["name", "age", "role", "tags"],
      additionalProperties: false,
    };
    const g = tokenizer.compile("json_schema", JSON.stringify(schema));
    for (let seed = 1; seed <= 12; seed++) {
      const text = walk(g, seed);
      const v = JSON.parse(text) as Record<string, unknown>;
      assert.deepEqual(Object.keys(v).sort(), ["age", "name", "role", "tags"], text);
      assert.ok(typeof v["name"] === "string" && v["name"].length <= 12, text);
      assert.ok(Number.isInteger(v["age"]) && (v["age"] as number) >= 0 && (v["age"] as number) <= 120, text);
      assert.ok(["admin", "user", "guest"].includes(v["role"] as string), text);
      const tags = v["tags"] as unknown[];
      assert.ok(Array.isArray(tags) && tags.length <= 3, text);
      for (const t of tags) assert.match(t as string, /^[a-z]{1,5}$/, text);
    }
  });

  test("regex walks fully match the regex", () => {
    const g = tokenizer.compile("regex", "(cat|dog)-[0-9]{2,4}( [A-Z][a-z]{0,6}){1,3}");
    for (let seed = 1; seed <= 12; seed++)
      assert.match(walk(g, seed), /^(cat|dog)-[0-9]{2,4}( [A-Z][a-z]{0,6}){1,3}$/);
  });

  test("Lark (EBNF) walks are sentences of the grammar", () => {
    const lark =
      'start: expr\nexpr: term (("+" | "-") term){0,3}\nterm: NUMBER | "(" expr ")"\nNUMBER: /[1-9][0-9]{0,2}/';
    const g = tokenizer.compile("lark", lark);
    // The same language as a check: numbers joined by + or -, with balanced parentheses.
    const parses = (s: string): boolean => {
      let prev = "";
      let cur = s;
      while (cur !== prev) {
        prev = cur;
        cur = cur.replace(/\((\d+(?:[+-]\d+)*)\)/g, "1");
      }
      return /^[1-9]\d{0,2}(?:[+-][1-9]\d{0,2})*$/.test(cur.replace(/\b\d+\b/g, "1"));
    };
    for (let seed = 1; seed <= 12; seed++) {
      const text = walk(g, seed);
      assert.ok(parses(text), text);
    }
  });

  test("a compiled grammar is cached per source; each matcher starts fresh", () => {
    const before = tokenizer.cachedGrammars;
    const a = tokenizer.compile("regex", "[ab]{3}");
    assert.equal(tokenizer.compile("regex", "[ab]{3}"), a);
    assert.equal(tokenizer.cachedGrammars, before + 1);
    assert.match(walk(a, 7), /^[ab]{3}$/);
    assert.match(walk(a, 8), /^[ab]{3}$/);
  });

  test("a token the mask refuses is refused by the matcher", () => {
    const m = tokenizer.compile("regex", "[0-9]+").matcher();
    const letter = allowed(tokenizer.compile("regex", "x").matcher().mask()).find((id) => id !== eos)!;
    assert.throws(() => m.accept(letter));
  });

  test("an invalid grammar is grammar_invalid with the engine's reason", () => {
    assert.throws(
      () => tokenizer.compile("json_schema", '{"type": "object", "properties": {"a": {"type": "nope"}}}'),
      (e: unknown) => e instanceof EngineError && e.code === "grammar_invalid" && e.httpStatus === 400,
    );
    assert.throws(
      () => tokenizer.compile("regex", "(unclosed"),
      (e: unknown) => e instanceof EngineError && e.code === "grammar_invalid" && /regex/.test(e.message),
    );
  });
});
