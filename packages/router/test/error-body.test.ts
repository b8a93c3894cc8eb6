import assert from "node:assert/strict";
import { test } from "node:test";
import { RadixServeError } from "@radixserve/core";
import { toHttpError } from "../src/gateway/error-body.js";

test("error body: a worker's client_too_slow (rebuilt from its WorkerError) reaches the client as a 408 with its message", () => {
  const wire = new RadixServeError(
    "client_too_slow",
    "request r1: the client left 65 generated tokens unread (limit 64, the worker's --max-unread-tokens)",
  ).toWorkerError();
  const e = toHttpError(RadixServeError.fromWorkerError(wire), "r1");
  assert.equal(e.status, 408);
  assert.equal(e.body.error.code, "client_too_slow");
  assert.equal(e.body.error.type, "invalid_request_error");
  assert.match(e.body.error.message, /65 generated tokens unread \(limit 64/);
  assert.equal(e.body.error.request_id, "r1");
  assert.equal(e.retryAfterS, undefined);
});
