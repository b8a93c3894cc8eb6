#!/usr/bin/env node
// The decode worker process: `node packages/worker/dist/main.js --model-path DIR ...`, the same
// flags as `radixserve worker` with --disagg-mode fixed to decode (the runtime is @radixserve/worker).
import { runRoleWorkerCli } from "@radixserve/worker";

process.exitCode = await runRoleWorkerCli("decode", process.argv.slice(2));
// Servers are closed by then; exit explicitly so a stray handle cannot keep a drained worker alive.
process.exit(process.exitCode);
