import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { IncrementalDetokenizer } from "../src/tokenizer/incremental-detokenizer.js";
import { StopStringMatcher } from "../src/tokenizer/stop-string-matcher.js";
import { loadTokenizer } from "../src/tokenizer/tokenizer.js";
import { withModelJson } from "./tokenizer-helpers.js";

// Rare characters (𝄞, 龘, 🦜, skin-tone modifiers) are not in the 32k vocabulary: they are spelled
// with byte-fallback tokens, one UTF-8 byte each, so a character spans several tokens.
const TEXT = "Hi 𝄞 there! 龘龘 naïve 🦜👍🏽 世界 — done.\nNext line 😀";

describe("IncrementalDetokenizer", () => {
  test("a multi-byte stream fed one token at a time reassembles exactly, never emitting U+FFFD", async () => {
    await withModelJson("tiny", async (dir) => {
      const tok = await loadTokenizer(dir);
      const ids = tok.encode(TEXT, { addSpecialTokens: false });
      const byteTokens = ids.filter((id) => /^<0x[0-9A-F]{2}>$/.test(tok.idToToken(id) ?? ""));
      assert.ok(byteTokens.length >= 8, "the text really exercises byte-fallback tokens");
      const detok = new IncrementalDetokenizer(tok);
      const chunks = ids.map((id) => detok.push(id));
      chunks.push(detok.flush());
      for (const c of chunks)
        assert.ok(!c.includes("\uFFFD"), `chunk ${JSON.stringify(c)} has a broken character`);
      assert.equal(chunks.join(""), TEXT);
      assert.equal(chunks.join(""), tok.decode(ids));
    });
  });

  test("every split point of the stream (two pushes) gives the same text", async () => {
    await withModelJson("tiny", async (dir) => {
      const tok = await loadTokenizer(dir);
      const ids = tok.encode(TEXT, { addSpecialTokens: false });
      for (let cut = 0; cut <= ids.length; cut++) {
        const detok = new IncrementalDetokenizer(tok);
        const out = detok.push(ids.slice(0, cut)) + detok.push(ids.slice(cut)) + detok.flush();
        assert.equal(out, TEXT, `split at ${cut}`);
      }
    });
  });

  test("prompt context gives the first generated token its leading space; special tokens are skipped", async () => {
    await withModelJson("tiny", async (dir) => {
      const tok = await loadTokenizer(dir);
      const prompt = tok.encode("The answer is");
      // SentencePiece prepends "▁": "forty" encodes as "▁forty", which follows the prompt with a space.
      const gen = tok.encode("forty two", { addSpecialTokens: false });
      const detok = new IncrementalDetokenizer(tok, { promptIds: prompt });
      let out = "";
      for (const id of gen) out += detok.push(id);
      out += detok.push(2) + detok.flush(); // EOS
      assert.equal(out, " forty two");
      const full = tok.decode([...prompt, ...gen], { skipSpecialTokens: true });
      assert.equal(full, `The answer is${out}`);
    });
  });

  test("an incomplete character at the end of the stream is flushed as U+FFFD, not lost", async () => {
    await withModelJson("tiny", async (dir) => {
      const tok = await loadTokenizer(dir);
      const ids = tok.encode("a 𝄞", { addSpecialTokens: false });
      const detok = new IncrementalDetokenizer(tok);
      let out = "";
      for (const id of ids.slice(0, -1)) out += detok.push(id);
      assert.ok(!out.includes("\uFFFD"));
      out += detok.flush();
      assert.ok(out.startsWith("a ") && out.endsWith("\uFFFD"), JSON.stringify(out));
    });
  });
});

describe("StopStringMatcher", () => {
  function run(stops: string[], chunks: string[]): { out: string; stopped: boolean; pieces: string[] } {
    const m = new StopStringMatcher(stops);
    const pieces: string[] = [];
    let stopped = false;
    for (const c of chunks) {
      const r = m.push(c);
      pieces.push(r.text);
      if (r.stopped) {
        stopped = true;
        break;
      }
    }
    if (!stopped) pieces.push(m.flush());
    return { out: pieces.join(""), stopped, pieces };
  }

  test("finds a stop string split across chunks and trims it", () => {
    const text = "Hello world. END of story";
    for (let a = 0; a <= text.length; a++) {
      for (let b = a; b <= text.length; b++) {
        const r = run(["END"], [text.slice(0, a), text.slice(a, b), text.slice(b)]);
        assert.equal(r.out, "Hello world. ", `cuts ${a},${b}`);
        assert.ok(r.stopped);
      }
    }
  });

  test("holds back a possible stop prefix, then releases it when it does not complete", () => {
    const m = new StopStringMatcher(["\n\nUser:"]);
    assert.deepEqual(m.push("Sure.\n"), { text: "Sure.", stopped: false });
    assert.deepEqual(m.push("\nUs"), { text: "", stopped: false });
    assert.deepEqual(m.push("ually"), { text: "\n\nUsually", stopped: false });
    assert.equal(m.flush(), "");
  });

  test("the earliest of several stop strings wins; empty stops are ignored", () => {
    const r = run(["", "cd", "bcx", "b"], ["ab", "cd"]);
    assert.equal(r.out, "a");
    const m = new StopStringMatcher(["xyz", "bc"]);
    const first = m.push("abxy");
    assert.equal(first.text, "ab");
    const second = m.push("zbc");
    assert.deepEqual(second, { text: "", stopped: true, stop: "xyz" });
    assert.deepEqual(m.push("more"), { text: "", stopped: true });
  });

  test("no stop strings: text passes straight through", () => {
    const r = run([], ["a", "b"]);
    assert.deepEqual(r.pieces, ["a", "b", ""]);
    assert.equal(r.stopped, false);
  });

  test("held text is flushed at end of stream", () => {
    const r = run(["STOP"], ["the end ST"]);
    assert.equal(r.out, "the end ST");
    assert.equal(r.stopped, false);
  });
});
