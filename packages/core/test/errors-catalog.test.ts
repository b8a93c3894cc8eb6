import assert from "node:assert/strict";
import { test } from "node:test";
import { status } from "@grpc/grpc-js";
import { ERRORS, errorSpec, RadixServeError, toRadixServeError } from "../src/errors/index.js";

test("errors catalog: every entry's key equals its code, with the documented statuses", () => {
  for (const [key, spec] of Object.entries(ERRORS)) assert.equal(spec.code, key);
  assert.equal(ERRORS.queue_full.httpStatus, 429);
  assert.equal(ERRORS.queue_full.grpcStatus, status.RESOURCE_EXHAUSTED);
  assert.equal(ERRORS.prompt_too_long.httpStatus, 400);
  assert.equal(ERRORS.no_worker.httpStatus, 503);
  assert.equal(ERRORS.unauthorized.httpStatus, 401);
  assert.equal(ERRORS.model_not_found.httpStatus, 404);
  assert.equal(ERRORS.client_too_slow.httpStatus, 408);
  assert.equal(ERRORS.client_too_slow.grpcStatus, status.RESOURCE_EXHAUSTED);
  for (const c of ["invalid_request", "aborted", "deadline_exceeded", "internal"]) assert.ok(c in ERRORS);
});

test("errors: RadixServeError carries code, statuses and cause; round-trips through WorkerError", () => {
  const cause = new Error("pool exhausted");
  const e = new RadixServeError("queue_full", "queue is full (64 queued)", { cause });
  assert.equal(e.cause, cause);
  assert.equal(e.httpStatus, 429);
  const wire = e.toWorkerError();
  assert.deepEqual(wire, { code: "queue_full", message: "queue is full (64 queued)", httpStatus: 429 });
  const back = RadixServeError.fromWorkerError(wire);
  assert.equal(back.code, "queue_full");
  assert.equal(RadixServeError.fromWorkerError({ code: "from_the_future", message: "x" }).code, "internal");
  assert.equal(errorSpec("nope").code, "internal");
  assert.equal(toRadixServeError(new TypeError("bad")).code, "internal");
  assert.equal(toRadixServeError(e), e);
});

test("errors: a RadixServeError can be logged by pino (its frozen catalog entry is not enumerable)", async () => {
  const { Writable } = await import("node:stream");
  const { default: pino } = await import("pino");
  let out = "";
  const sink = new Writable({
    write(chunk, _enc, done) {
      out += String(chunk);
      done();
    },
  });
  const log = pino({ redact: ["*.tokens", "*.prompt"] }, sink);
  log.error({ err: new RadixServeError("queue_full") }, "rejected");
  const line = JSON.parse(out) as { err: { code: string; message: string } };
  assert.equal(line.err.code, "queue_full");
  assert.equal(new RadixServeError("queue_full").httpStatus, 429);
});
