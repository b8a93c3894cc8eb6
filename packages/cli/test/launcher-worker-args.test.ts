import assert from "node:assert/strict";
import { test } from "node:test";
import { withoutDecodeOnlyFlags } from "../src/launcher/launcher.js";

test("launcher: prefill workers get the worker flags without the decode-only --speculative-* ones", () => {
  assert.deepEqual(
    withoutDecodeOnlyFlags([
      "--threads",
      "2",
      "--speculative-algorithm",
      "ngram",
      "--speculative-num-draft-tokens=6",
      "--speculative-max-batch-size",
      "4",
      "--disable-radix-cache",
    ]),
    ["--threads", "2", "--disable-radix-cache"],
  );
});
