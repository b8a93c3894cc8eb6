import assert from "node:assert/strict";
import { test } from "node:test";
import { parseLaunchDisaggMode, parseWorkerDisaggMode } from "../src/process/disagg-mode.js";

test("disagg-mode: worker takes unified|prefill|decode, null is unified", () => {
  assert.equal(parseWorkerDisaggMode("unified"), "unified");
  assert.equal(parseWorkerDisaggMode("prefill"), "prefill");
  assert.equal(parseWorkerDisaggMode("decode"), "decode");
  assert.equal(parseWorkerDisaggMode("null"), "unified");
  assert.equal(parseWorkerDisaggMode("Decode"), "decode");
});

test("disagg-mode: worker refuses pd naming `radixserve start`, and unknown values", () => {
  assert.throws(() => parseWorkerDisaggMode("pd"), /radixserve start/);
  assert.throws(() => parseWorkerDisaggMode("both"), /must be unified, prefill or decode, got 'both'/);
});

test("disagg-mode: start takes pd|unified, refuses a worker role naming `radixserve worker`", () => {
  assert.equal(parseLaunchDisaggMode("pd"), "pd");
  assert.equal(parseLaunchDisaggMode("unified"), "unified");
  assert.equal(parseLaunchDisaggMode("null"), "unified");
  assert.throws(() => parseLaunchDisaggMode("prefill"), /radixserve worker/);
  assert.throws(() => parseLaunchDisaggMode("decode"), /radixserve worker/);
  assert.throws(() => parseLaunchDisaggMode("x"), /must be pd or unified, got 'x'/);
});
