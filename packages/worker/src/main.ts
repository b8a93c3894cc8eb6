#!/usr/bin/env node
// Process entry: `node packages/worker/dist/main.js --model-path DIR ...`.
import { runWorkerCli } from "./cli.js";

process.exitCode = await runWorkerCli(process.argv.slice(2));
// Servers are closed by then; exit explicitly so a stray handle cannot keep a drained worker alive.
process.exit(process.exitCode);
