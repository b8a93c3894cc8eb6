import assert from "node:assert/strict";
import { test } from "node:test";
import {
  decodeKvEventBatch,
  decodeKvSnapshot,
  decodeLoadReport,
  encodeJson,
  type KvEventBatch,
} from "../src/events/kv-event-types.js";
import { eventSubjects } from "../src/events/subjects.js";

const H = "0123456789abcdef";

test("events: a KV event batch round-trips and malformed ones are values, not throws", () => {
  const b: KvEventBatch = {
    v: 1,
    workerId: "127.0.0.1:5000",
    instanceId: "i",
    eventId: 3,
    events: [
      { type: "stored", blocks: [{ hash: H, parent: null }] },
      { type: "removed", hashes: [H] },
      { type: "cleared" },
    ],
  };
  const d = decodeKvEventBatch(encodeJson(b));
  assert.ok(d.ok);
  assert.deepEqual(d.value, b);
  const bad = (x: unknown) => decodeKvEventBatch(typeof x === "string" ? x : JSON.stringify(x));
  assert.deepEqual(bad("{"), { ok: false, reason: "not JSON" });
  assert.deepEqual(bad({ ...b, v: 2 }), { ok: false, reason: "unsupported version 2" });
  assert.deepEqual(bad({ ...b, eventId: 0 }), { ok: false, reason: "bad eventId" });
  assert.deepEqual(bad({ ...b, events: [{ type: "stored", blocks: [{ hash: "xyz", parent: null }] }] }), {
    ok: false,
    reason: "malformed event",
  });
  assert.deepEqual(bad({ ...b, events: [{ type: "exploded" }] }), { ok: false, reason: "malformed event" });
  assert.deepEqual(bad([1]), { ok: false, reason: "not an object" });
});

test("events: snapshots and load reports validate their fields", () => {
  const s = decodeKvSnapshot(
    JSON.stringify({ v: 1, workerId: "w", instanceId: "i", eventId: 0, blocks: [] }),
  );
  assert.ok(s.ok);
  assert.equal(
    decodeKvSnapshot(JSON.stringify({ v: 1, workerId: "w", instanceId: "i", eventId: -1, blocks: [] })).ok,
    false,
  );
  const load = {
    v: 1,
    workerId: "w",
    instanceId: "i",
    running: 1,
    queued: 0,
    kvBlocksFree: 5,
    kvBlocksTotal: 9,
    tokensPerS: 3.5,
    ts: 1,
  };
  assert.ok(decodeLoadReport(JSON.stringify(load)).ok);
  assert.deepEqual(decodeLoadReport(JSON.stringify({ ...load, queued: -1 })), {
    ok: false,
    reason: "bad queued",
  });
});

test("events: subjects keep a dotted worker address in one token", () => {
  const s = eventSubjects();
  assert.equal(s.kvEvents, "radixserve.kv.events");
  const subj = s.snapshot("10.0.0.7:50051");
  assert.equal(subj.split(".").length, 4);
  assert.equal(Buffer.from(subj.split(".")[3]!, "base64url").toString(), "10.0.0.7:50051");
  assert.throws(() => eventSubjects("bad prefix"), /must be dot-separated/);
});
