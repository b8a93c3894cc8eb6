import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { CLUSTER_SECRET_ENV, ClusterSecret, loadClusterSecret } from "../src/auth/cluster-secret.js";

test("cluster secret: from a file (trailing newline ignored) or the environment, the file first; derived keys differ from the secret and from each other", () => {
  const dir = mkdtempSync(join(tmpdir(), "radixserve-secret-"));
  try {
    const file = join(dir, "s");
    writeFileSync(file, "0123456789abcdef0123\n");
    const fromFile = loadClusterSecret(file, {});
    const fromEnv = loadClusterSecret(undefined, { [CLUSTER_SECRET_ENV]: "0123456789abcdef0123" });
    assert.ok(fromFile && fromEnv);
    assert.equal(fromFile.grpcToken, fromEnv.grpcToken, "same secret, same token");
    assert.deepEqual(fromFile.kvAuthKey, fromEnv.kvAuthKey);
    assert.equal(fromFile.kvAuthKey.length, 32);
    assert.ok(!fromFile.grpcToken.includes("0123456789abcdef0123"));
    assert.notEqual(fromFile.grpcToken, fromFile.kvAuthKey.toString("hex"));
    const other = loadClusterSecret(file, { [CLUSTER_SECRET_ENV]: "another secret of enough bytes" });
    assert.equal(other?.grpcToken, fromFile.grpcToken, "the file wins over the environment");
    assert.equal(loadClusterSecret(undefined, {}), null, "none: no authentication");
    assert.ok(fromFile.acceptsToken(fromEnv.grpcToken));
    assert.ok(!fromFile.acceptsToken(ClusterSecret.fromBytes("some other secret!!", "t").grpcToken));
    assert.ok(!fromFile.acceptsToken(""));
    writeFileSync(file, "short\n");
    assert.throws(() => loadClusterSecret(file, {}), /--cluster-secret-file .* has 5 bytes; use at least 16/);
    assert.throws(
      () => loadClusterSecret(join(dir, "missing"), {}),
      /--cluster-secret-file .*missing: ENOENT/,
    );
    assert.throws(
      () => loadClusterSecret(undefined, { [CLUSTER_SECRET_ENV]: "tiny" }),
      /\$RADIXSERVE_CLUSTER_SECRET has 4 bytes/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
