#!/usr/bin/env node
// The prefill worker process: `node packages/prefill-worker/dist/main.js --model-path DIR ...`, the same
// flags as `radixserve worker` with --disagg-mode fixed to prefill (the runtime is @radixserve/worker).
import { runRoleWorkerCli } from "@radixserve/worker";

process.exitCode = await runRoleWorkerCli("prefill", process.argv.slice(2));
// Servers are closed by then; exit explicitly so a stray handle cannot keep a drained worker alive.
process.exit(process.exitCode);
