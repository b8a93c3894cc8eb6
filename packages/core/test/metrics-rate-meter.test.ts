import assert from "node:assert/strict";
import { test } from "node:test";
import { RateMeter } from "../src/metrics/rate-meter.js";

test("RateMeter: growth per second over the window, 0 on the first read, restarts when the total drops", () => {
  const m = new RateMeter(10_000);
  assert.equal(m.rate(100, 0), 0);
  assert.equal(m.rate(200, 1000), 100);
  assert.equal(m.rate(400, 2000), 150);
  // 12 s later: the window keeps one sample at or before now-10 s (t=2000), so 600 over 10 s.
  assert.equal(m.rate(1000, 12_000), 60);
  // A restarted total (down) starts over instead of giving a negative rate.
  assert.equal(m.rate(5, 13_000), 0);
  assert.equal(m.rate(25, 14_000), 20);
});
