import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parseWorkerArgs } from "../src/cli.js";

const base = ["--model-path", "/nowhere"];

test("worker flags: --kv-port only where a tcp KV listener runs, in range", () => {
  assert.equal(parseWorkerArgs([...base, "--disagg-mode", "decode", "--kv-port", "9500"]).kvPort, 9500);
  assert.equal(parseWorkerArgs([...base, "--disagg-mode", "decode", "--kv-transport", "tcp"]).kvPort, 0);
  assert.throws(
    () => parseWorkerArgs([...base, "--kv-port", "9500"]),
    /--kv-port applies to --disagg-mode decode/,
  );
  assert.throws(
    () =>
      parseWorkerArgs([...base, "--disagg-mode", "decode", "--kv-transport", "grpc", "--kv-port", "9500"]),
    /--kv-port needs --kv-transport tcp or auto/,
  );
  assert.throws(
    () => parseWorkerArgs([...base, "--disagg-mode", "decode", "--kv-port", "70000"]),
    /0\.\.65535/,
  );
});

test("worker flags: --speculative-* in unified and decode mode; refused elsewhere, unknown or alone", () => {
  assert.deepEqual(parseWorkerArgs([...base, "--speculative-algorithm", "ngram"]).speculative, {
    algorithm: "ngram",
    numDraftTokens: 4,
    maxBatchSize: 8,
  });
  assert.deepEqual(
    parseWorkerArgs([
      ...base,
      "--disagg-mode",
      "decode",
      "--speculative-algorithm",
      "ngram",
      "--speculative-num-draft-tokens",
      "6",
      "--speculative-max-batch-size",
      "2",
    ]).speculative,
    { algorithm: "ngram", numDraftTokens: 6, maxBatchSize: 2 },
  );
  assert.equal(parseWorkerArgs(base).speculative, undefined);
  assert.throws(
    () => parseWorkerArgs([...base, "--disagg-mode", "prefill", "--speculative-algorithm", "ngram"]),
    /--speculative-algorithm applies to --disagg-mode unified or decode/,
  );
  assert.throws(
    () => parseWorkerArgs([...base, "--speculative-algorithm", "eagle"]),
    /--speculative-algorithm must be one of ngram, got 'eagle'/,
  );
  assert.throws(
    () => parseWorkerArgs([...base, "--speculative-num-draft-tokens", "4"]),
    /--speculative-num-draft-tokens needs --speculative-algorithm/,
  );
  assert.throws(
    () =>
      parseWorkerArgs([...base, "--speculative-algorithm", "ngram", "--speculative-num-draft-tokens", "17"]),
    /1\.\.16/,
  );
  assert.throws(
    () => parseWorkerArgs([...base, "--speculative-model", "/m.gguf"]),
    /--speculative-model .* not supported/,
  );
});

test("worker flags: --cluster-secret-file is read (a bad one is refused naming the flag); none: no secret", () => {
  const dir = mkdtempSync(join(tmpdir(), "radixserve-cli-"));
  const saved = process.env["RADIXSERVE_CLUSTER_SECRET"];
  delete process.env["RADIXSERVE_CLUSTER_SECRET"];
  try {
    const file = join(dir, "secret");
    writeFileSync(file, "a cluster secret of enough bytes\n");
    assert.ok(parseWorkerArgs([...base, "--cluster-secret-file", file]).clusterSecret);
    assert.equal(parseWorkerArgs(base).clusterSecret, null);
    assert.throws(
      () => parseWorkerArgs([...base, "--cluster-secret-file", join(dir, "nope")]),
      /--cluster-secret-file .*nope: ENOENT/,
    );
  } finally {
    if (saved !== undefined) process.env["RADIXSERVE_CLUSTER_SECRET"] = saved;
    rmSync(dir, { recursive: true, force: true });
  }
});

test("worker flags: mutual TLS needs --tls-cert, --tls-key and --tls-ca together", () => {
  assert.equal(parseWorkerArgs(base).clusterTls, null);
  assert.throws(
    () => parseWorkerArgs([...base, "--tls-cert", "/x.pem"]),
    /needs --tls-cert, --tls-key and --tls-ca together; missing --tls-key, --tls-ca/,
  );
  assert.throws(
    () => parseWorkerArgs([...base, "--tls-cert", "/x.pem", "--tls-key", "/y.key", "--tls-ca", "/z.pem"]),
    /--tls-cert \/x\.pem: ENOENT/,
  );
});

test("worker flags: --max-unread-tokens defaults to 4096, takes a positive integer and refuses others naming the flag", () => {
  assert.equal(parseWorkerArgs(base).maxUnreadTokens, 4096);
  assert.equal(parseWorkerArgs([...base, "--max-unread-tokens", "64"]).maxUnreadTokens, 64);
  assert.throws(() => parseWorkerArgs([...base, "--max-unread-tokens", "0"]), /--max-unread-tokens/);
  assert.throws(() => parseWorkerArgs([...base, "--max-unread-tokens", "lots"]), /--max-unread-tokens/);
});
