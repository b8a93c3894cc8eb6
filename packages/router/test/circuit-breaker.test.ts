import assert from "node:assert/strict";
import { test } from "node:test";
import { CircuitBreaker } from "../src/policies/circuit-breaker.js";

test("circuit breaker: opens on failure, half-opens after a doubling cooldown, closes on success", () => {
  const b = new CircuitBreaker({ failureThreshold: 2, baseCooldownMs: 100, maxCooldownMs: 300 });
  assert.equal(b.state(0), "closed");
  b.recordFailure(0);
  assert.ok(b.allows(0), "one failure is under the threshold");
  b.recordFailure(10);
  assert.equal(b.state(10), "open");
  assert.ok(!b.allows(109));
  b.recordSuccess(50); // during the cooldown: ignored
  assert.equal(b.state(109), "open");
  assert.equal(b.state(110), "half_open");
  b.recordFailure(120); // failed again in half-open: 200 ms now
  assert.equal(b.state(319), "open");
  assert.equal(b.state(320), "half_open");
  b.recordFailure(400); // capped at 300
  assert.equal(b.state(699), "open");
  assert.equal(b.state(700), "half_open");
  b.recordSuccess(700);
  assert.equal(b.state(700), "closed");
  b.recordFailure(800);
  assert.equal(b.state(800), "closed", "the count restarted after the success");
  assert.throws(() => new CircuitBreaker({ failureThreshold: 0 }), /failureThreshold/);
});
