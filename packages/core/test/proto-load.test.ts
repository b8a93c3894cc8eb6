import assert from "node:assert/strict";
import { test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import type { GenerateRequest__Output, GenerateResponse } from "../src/proto/index.js";
import { findProtoDir, loadWorkerService } from "../src/proto/load.js";

test("proto loader: finds protos/ by walking up and exposes every WorkerService method", () => {
  assert.match(findProtoDir(), /protos$/);
  const { service, Client } = loadWorkerService();
  assert.deepEqual(Object.keys(service).sort(), [
    "Abort",
    "FlushCache",
    "Generate",
    "GetLoad",
    "GetModelInfo",
    "Health",
  ]);
  assert.equal(typeof Client, "function");
  assert.equal(loadWorkerService(), loadWorkerService(), "loaded once per process");
});

test("proto loader: a Generate round trip uses camelCase, string longs, string enums and oneof names", async () => {
  const { service, Client } = loadWorkerService();
  const server = new grpc.Server();
  let received: GenerateRequest__Output | undefined;
  server.addService(service, {
    Generate: (call: grpc.ServerWritableStream<GenerateRequest__Output, GenerateResponse>) => {
      received = call.request;
      call.write({ requestId: call.request.requestId, token: { tokenId: 7 } });
      call.write({
        requestId: call.request.requestId,
        finished: { reason: "FINISH_REASON_LENGTH", usage: { promptTokens: 3, completionTokens: 1 } },
      });
      call.end();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    const events: unknown[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = client.Generate({
        requestId: "18446744073709551615",
        inputIds: [1, 2, 3],
        sampling: { maxNewTokens: 1 },
        deadlineUnixMs: "1234567890123",
      });
      call.on("data", (e) => events.push(e));
      call.on("end", resolve);
      call.on("error", reject);
    });
    assert.ok(received);
    assert.equal(received.requestId, "18446744073709551615");
    assert.deepEqual(received.inputIds, [1, 2, 3]);
    assert.equal(received.deadlineUnixMs, "1234567890123");
    assert.equal(received.sampling?.maxNewTokens, 1);
    assert.equal(received.sampling?.topP, 0, "defaults: true fills proto3 zeros");
    assert.equal(received.priority, 0);
    const [first, second] = events as Array<{
      event: string;
      token?: { tokenId: number };
      finished?: { reason: string };
    }>;
    assert.equal(first?.event, "token");
    assert.equal(first?.token?.tokenId, 7);
    assert.equal(second?.event, "finished");
    assert.equal(second?.finished?.reason, "FINISH_REASON_LENGTH");
  } finally {
    client.close();
    server.forceShutdown();
  }
});
