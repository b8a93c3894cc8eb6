import assert from "node:assert/strict";
import { test } from "node:test";
import { ServingMetrics } from "@radixserve/core";
import { KV_TRANSFER_FAILURES, KV_TRANSFER_MEDIA, KvTransferMetrics } from "../src/transfer-metrics.js";

test("KV transfer metrics: every cause and medium exists at zero; throughput in bytes per second; bytes moved", async () => {
  const serving = new ServingMetrics("decode", undefined, { modelName: "m", processMetrics: false });
  const m = new KvTransferMetrics(serving.registry, {
    reservationQueue: () => 0,
    transfersInFlight: () => 0,
  });
  let body = (await serving.render()).body;
  for (const cause of KV_TRANSFER_FAILURES)
    assert.match(
      body,
      new RegExp(
        `radixserve_kv_transfer_failures_total\\{cause="${cause}",role="decode",model_name="m"\\} 0`,
      ),
    );
  for (const transport of KV_TRANSFER_MEDIA) {
    assert.match(body, new RegExp(`radixserve_kv_transfer_bytes_total\\{transport="${transport}"[^}]*\\} 0`));
    assert.match(
      body,
      new RegExp(`radixserve_kv_transfer_latency_seconds_count\\{[^}]*transport="${transport}"[^}]*\\} 0`),
    );
  }
  assert.match(body, /# TYPE radixserve_kv_transfer_throughput_bytes_per_second histogram/);
  m.recordTransfer("tcp", 2e9, 100, 1);
  m.failures.inc({ cause: "checksum" });
  assert.equal(m.bytesMoved, 2e9);
  body = (await serving.render()).body;
  assert.match(
    body,
    /radixserve_kv_transfer_throughput_bytes_per_second_bucket\{le="2000000000",[^}]*transport="tcp"[^}]*\} 1/,
  );
  assert.match(
    body,
    /radixserve_kv_transfer_throughput_bytes_per_second_bucket\{le="1000000000",[^}]*transport="tcp"[^}]*\} 0/,
  );
  assert.match(body, /radixserve_kv_transfer_failures_total\{cause="checksum"[^}]*\} 1/);
});
