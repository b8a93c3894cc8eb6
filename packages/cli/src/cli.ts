#!/usr/bin/env node
import {
  CLUSTER_SECRET_ENV,
  ClusterTls,
  type LaunchDisaggMode,
  loadClusterSecret,
  makeModelCli,
  otlpEndpointProblem,
  parseLaunchDisaggMode,
  ROUTER_READY_PREFIX,
  setLogLevel,
} from "@radixserve/core";
import {
  DEFAULT_LIMITS,
  DEFAULT_MAX_PENDING_REQUESTS,
  DEFAULT_POLICY,
  DEFAULT_TOKENIZER_THREADS,
  parsePolicySpec,
  policyNames,
  startRouter,
  TOOL_CALL_PARSER_NAMES,
} from "@radixserve/router";
import { runWorkerCli } from "@radixserve/worker";
/**
 * `radixserve`: the one command line of RadixServe.
 *   start       router + one unified worker on loopback (the launcher)
 *   router      the OpenAI gateway alone, in front of --worker-urls
 *   worker      a worker alone (argv is forwarded to the worker's own CLI)
 *   make-model  write a generated Hugging Face model directory
 * Bad input prints one line and exits non-zero.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { resolveApiKey } from "./api-key.js";
import { launch } from "./launcher/launcher.js";

/** --otlp-traces-endpoint: an http(s) URL, refused with one line otherwise. */
function otlpFlag(value: string): string {
  const problem = otlpEndpointProblem(value);
  if (problem) throw new InvalidArgumentError(problem);
  return value;
}

function intFlag(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}], got "${value}"`);
    return n;
  };
}

function workerUrls(value: string): string[] {
  const urls = value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (urls.length === 0) throw new InvalidArgumentError("--worker-urls needs at least one host:port");
  for (const u of urls) {
    const m = /^(.+):(\d+)$/.exec(u);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
      throw new InvalidArgumentError(`--worker-urls: "${u}" is not host:port`);
  }
  return urls;
}

function fatal(msg: string): never {
  process.stderr.write(`radixserve: ${msg}\n`);
  process.exit(2);
}

/** The cluster secret from --cluster-secret-file or the environment; a bad one exits in one line. */
function secretOrFatal(file: string | undefined) {
  try {
    return loadClusterSecret(file);
  } catch (err) {
    return fatal((err as Error).message);
  }
}

/** The router's TLS identity from --tls-cert/--tls-key/--tls-ca; a bad set exits in one line. */
function tlsOrFatal(o: { tlsCert?: string; tlsKey?: string; tlsCa?: string }) {
  try {
    return ClusterTls.load({ cert: o.tlsCert, key: o.tlsKey, ca: o.tlsCa });
  } catch (err) {
    return fatal((err as Error).message);
  }
}

/** --policy values: validated at flag time so a typo fails with the list of policies and knobs. */
function policyFlag(name: string) {
  return (value: string): string => {
    try {
      parsePolicySpec(value);
    } catch (err) {
      throw new InvalidArgumentError(`${name}: ${(err as Error).message}`);
    }
    return value;
  };
}

interface RouterFlags {
  workerUrls?: string[];
  policy: string;
  prefillPolicy?: string;
  decodePolicy?: string;
  redisUrl?: string;
  natsUrl?: string;
  discoveryScanMs: number;
  queueSize: number;
  queueTimeoutSecs: number;
  host: string;
  port: number;
  apiKey?: string;
  apiKeyFile?: string;
  metricsRequireApiKey?: boolean;
  maxRequestBytes?: number;
  maxPendingRequests: number;
  maxPromptChars: number;
  maxPromptTokens: number;
  maxChoicesPerRequest: number;
  tokenizerThreads: number;
  tokenizerPath?: string;
  logLevel?: string;
  requestTimeout: number;
  maxRetries: number;
  retryBackoffMs: number;
  workerPollMs: number;
  toolCallParser?: string;
  clusterSecretFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  otlpTracesEndpoint?: string;
}

const CLUSTER_SECRET_HELP = `file holding the cluster secret shared with the workers (>= 16 bytes): every call to a worker carries it (also $${CLUSTER_SECRET_ENV})`;

function build(): Command {
  const program = new Command("radixserve")
    .description("RadixServe: an OpenAI-compatible LLM server with prefix caching")
    .showHelpAfterError(false)
    .configureOutput({
      outputError: (str, write) => write(`radixserve: ${str.split("\n")[0]!.replace(/^error: /, "")}\n`),
    })
    // Set before the subcommands are added so they inherit it: errors exit 2 in main().
    .exitOverride();

  program
    .command("start")
    .description(
      "start the router and workers on loopback (1 prefill + 1 decode by default); other flags go to the workers",
    )
    .option(
      "--model-path <path>",
      "Hugging Face model directory, .gguf file (or a directory holding one), or Hub id org/name (default: SmolLM2-135M-Instruct, fetched once into the cache; the tiny random model when it cannot be had)",
    )
    .option("--revision <rev>", "Hub branch, tag or commit for --model-path org/name (default main)")
    .option("--host <host>", "HTTP host of the router", "127.0.0.1")
    .option("--port <port>", "HTTP port of the router", intFlag("--port", 0, 65535), 30000)
    .option(
      "--api-key <key>",
      "require this key as 'Authorization: Bearer <key>' on every route but the probes (default $RADIXSERVE_API_KEY)",
    )
    .option("--api-key-file <path>", "read the API key from this file instead")
    .option(
      "--max-request-bytes <n>",
      "largest request body (413 beyond)",
      intFlag("--max-request-bytes", 1, 2 ** 31),
    )
    .option(
      "--max-pending-requests <n>",
      "router-wide limit of choices in flight (429 beyond); 0 = none",
      intFlag("--max-pending-requests", 0, 1e9),
    )
    .option(
      "--request-timeout <s>",
      "deadline of one generation request in seconds; 0 = none",
      intFlag("--request-timeout", 0, 86400),
    )
    .option(
      "--cache-dir <dir>",
      "model cache: the default model, Hub downloads (default $RADIXSERVE_CACHE or ~/.cache/radixserve)",
    )
    .option(
      "--disagg-mode <mode>",
      "pd (prefill + decode workers) | unified (one worker); prefill|decode are `worker` roles",
      "pd",
    )
    .option("--num-prefill <n>", "prefill workers (pd mode)", intFlag("--num-prefill", 1, 64), 1)
    .option("--num-decode <n>", "decode workers (pd mode)", intFlag("--num-decode", 1, 64), 1)
    .addOption(
      new Option(
        "--tool-call-parser <name>",
        "format of the model's tool calls (default: read off the chat template)",
      ).choices(TOOL_CALL_PARSER_NAMES),
    )
    .option("--cluster-secret-file <path>", `${CLUSTER_SECRET_HELP}; passed to the router and every worker`)
    .option(
      "--tls-cert <file>",
      "mutual TLS between router and workers: one certificate (PEM) all of them use",
    )
    .option("--tls-key <file>", "mutual TLS: its private key (PEM)")
    .option("--tls-ca <file>", "mutual TLS: the CA (PEM) that signed it")
    .option(
      "--otlp-traces-endpoint <url>",
      "OTLP/HTTP traces endpoint for the router and every worker",
      otlpFlag,
    )
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (o, cmd: Command) => {
      let apiKey: string | undefined;
      try {
        apiKey = resolveApiKey({ apiKey: o.apiKey, apiKeyFile: o.apiKeyFile });
      } catch (err) {
        fatal((err as Error).message);
      }
      const routerArgs: string[] = [];
      if (o.maxRequestBytes !== undefined) routerArgs.push("--max-request-bytes", String(o.maxRequestBytes));
      if (o.maxPendingRequests !== undefined)
        routerArgs.push("--max-pending-requests", String(o.maxPendingRequests));
      if (o.requestTimeout !== undefined) routerArgs.push("--request-timeout", String(o.requestTimeout));
      if (o.toolCallParser !== undefined) routerArgs.push("--tool-call-parser", o.toolCallParser);
      const workerArgs = [...cmd.args];
      if (o.otlpTracesEndpoint !== undefined) {
        routerArgs.push("--otlp-traces-endpoint", o.otlpTracesEndpoint);
        workerArgs.push("--otlp-traces-endpoint", o.otlpTracesEndpoint);
      }
      if (o.clusterSecretFile !== undefined) {
        secretOrFatal(o.clusterSecretFile); // refused here, in one line, rather than by every child
        routerArgs.push("--cluster-secret-file", o.clusterSecretFile);
        workerArgs.push("--cluster-secret-file", o.clusterSecretFile);
      }
      if (tlsOrFatal(o)) {
        const tls = ["--tls-cert", o.tlsCert, "--tls-key", o.tlsKey, "--tls-ca", o.tlsCa];
        routerArgs.push(...tls);
        workerArgs.push(...tls);
      }
      let disaggMode: LaunchDisaggMode;
      try {
        disaggMode = parseLaunchDisaggMode(String(o.disaggMode));
      } catch (err) {
        fatal((err as Error).message);
      }
      if (o.modelPath === undefined && workerArgs.includes("--model-path"))
        fatal("--model-path needs a value");
      const code = await launch({
        modelPath: o.modelPath,
        revision: o.revision,
        host: o.host,
        port: o.port,
        apiKey,
        routerArgs,
        workerArgs,
        cacheDir: o.cacheDir,
        disaggMode,
        numPrefill: o.numPrefill,
        numDecode: o.numDecode,
      });
      process.exit(code);
    });

  program
    .command("router")
    .description("run the OpenAI gateway in front of running workers")
    .option(
      "--worker-urls <list>",
      "comma-separated host:port of worker gRPC servers (static set)",
      workerUrls,
    )
    .option("--redis-url <url>", "follow the workers registered in this Redis (redis://host:port)")
    .option("--nats-url <servers>", "follow the workers' KV events and load on NATS (host:port[,...])")
    .option(
      "--discovery-scan-ms <ms>",
      "Redis safety-net scan period",
      intFlag("--discovery-scan-ms", 50, 60_000),
      1000,
    )
    .option(
      "--policy <spec>",
      `routing policy: name[:knob=value,...], name one of ${policyNames().join(", ")} (e.g. cache_aware:cache_threshold=0.5)`,
      policyFlag("--policy"),
      DEFAULT_POLICY,
    )
    .option(
      "--prefill-policy <spec>",
      "PD mode: policy of the prefill pick (default: --policy)",
      policyFlag("--prefill-policy"),
    )
    .option(
      "--decode-policy <spec>",
      "PD mode: policy of the decode pick (default: --policy)",
      policyFlag("--decode-policy"),
    )
    .option("--host <host>", "HTTP host", "127.0.0.1")
    .option("--port <port>", "HTTP port (0 = any free port)", intFlag("--port", 0, 65535), 30000)
    .option(
      "--api-key <key>",
      "require this key as 'Authorization: Bearer <key>' on every route but the probes (default $RADIXSERVE_API_KEY)",
    )
    .option("--api-key-file <path>", "read the API key from this file (whitespace trimmed) instead")
    .option("--metrics-require-api-key", "/metrics needs the API key too (default: open for scrapers)")
    .option(
      "--max-request-bytes <n>",
      "largest request body (413 beyond)",
      intFlag("--max-request-bytes", 1, 2 ** 31),
    )
    .option(
      "--max-pending-requests <n>",
      "limit of choices in flight over all workers (429 beyond); 0 = none",
      intFlag("--max-pending-requests", 0, 1e9),
      DEFAULT_MAX_PENDING_REQUESTS,
    )
    .option(
      "--max-prompt-chars <n>",
      "largest prompt of one request in characters, all prompts or messages together (400 beyond)",
      intFlag("--max-prompt-chars", 1, 2 ** 31),
      DEFAULT_LIMITS.maxPromptChars,
    )
    .option(
      "--max-prompt-tokens <n>",
      "largest prompt of one request in tokens, all prompts together (400 beyond)",
      intFlag("--max-prompt-tokens", 1, 2 ** 31),
      DEFAULT_LIMITS.maxPromptTokens,
    )
    .option(
      "--max-choices-per-request <n>",
      "largest fan-out of one request: prompts x n (400 beyond)",
      intFlag("--max-choices-per-request", 1, 1e6),
      DEFAULT_LIMITS.maxChoices,
    )
    .option(
      "--tokenizer-threads <n>",
      "worker threads that render chat templates and tokenize (off the event loop)",
      intFlag("--tokenizer-threads", 1, 64),
      DEFAULT_TOKENIZER_THREADS,
    )
    .option(
      "--queue-size <n>",
      "with --max-pending-requests: requests that may wait for a slot (FIFO) before 429s; 0 = none",
      intFlag("--queue-size", 0, 1e6),
      0,
    )
    .option(
      "--queue-timeout-secs <s>",
      "longest wait in that queue before a 429",
      intFlag("--queue-timeout-secs", 1, 3600),
      30,
    )
    .option("--tokenizer-path <dir>", "tokenizer directory (default: the model path the worker reports)")
    .option(
      "--request-timeout <s>",
      "deadline of one generation request in seconds; 0 = none",
      intFlag("--request-timeout", 0, 86400),
      0,
    )
    .option(
      "--max-retries <n>",
      "retries of a request on another worker before its first token (worker unavailable, draining, circuit open, KV transfer lost)",
      intFlag("--max-retries", 0, 10),
      2,
    )
    .option(
      "--retry-backoff-ms <ms>",
      "backoff before the first retry, doubling per retry (jittered)",
      intFlag("--retry-backoff-ms", 1, 10_000),
      20,
    )
    .option(
      "--worker-poll-ms <ms>",
      "period of each worker's load/health poll",
      intFlag("--worker-poll-ms", 20, 10_000),
      200,
    )
    .option(
      "--otlp-traces-endpoint <url>",
      "send OpenTelemetry spans (OTLP/HTTP JSON) to this URL, e.g. http://otel-collector:4318/v1/traces (default: off)",
      otlpFlag,
    )
    .addOption(
      new Option(
        "--tool-call-parser <name>",
        "format of the model's tool calls (default: read off the chat template)",
      ).choices(TOOL_CALL_PARSER_NAMES),
    )
    .option("--log-level <level>", "trace, debug, info, warn, error or silent")
    .option("--cluster-secret-file <path>", CLUSTER_SECRET_HELP)
    .option(
      "--tls-cert <file>",
      "mutual TLS to the workers: the router's certificate chain (PEM); with --tls-key and --tls-ca",
    )
    .option("--tls-key <file>", "mutual TLS: the router's private key (PEM)")
    .option("--tls-ca <file>", "mutual TLS: the cluster CA (PEM) that signed the workers' certificates")
    .action(async (o: RouterFlags) => {
      if (o.logLevel) setLogLevel(o.logLevel);
      if (!o.workerUrls && !o.redisUrl) fatal("give --worker-urls, --redis-url (discovery), or both");
      let apiKey: string | undefined;
      try {
        apiKey = resolveApiKey({ apiKey: o.apiKey, apiKeyFile: o.apiKeyFile });
      } catch (err) {
        fatal((err as Error).message);
      }
      const clusterAuth = { secret: secretOrFatal(o.clusterSecretFile), tls: tlsOrFatal(o) };
      const router = await startRouter({
        ...o,
        apiKey,
        clusterAuth,
        metricsRequireKey: o.metricsRequireApiKey === true,
        limits: {
          maxPromptChars: o.maxPromptChars,
          maxPromptTokens: o.maxPromptTokens,
          maxChoices: o.maxChoicesPerRequest,
        },
        workerUrls: o.workerUrls ?? [],
        queueTimeoutMs: o.queueTimeoutSecs * 1000,
        requestTimeoutMs: o.requestTimeout * 1000,
        pollIntervalMs: o.workerPollMs,
      });
      const stop = () => {
        void router.close().then(() => process.exit(0));
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      await router.ready;
      process.stdout.write(`${ROUTER_READY_PREFIX} ${JSON.stringify({ port: router.port, host: o.host })}\n`);
    });

  program
    .command("make-model")
    .description("write a generated Hugging Face model directory (seeded random weights, real tokenizer)")
    .requiredOption("--out <dir>", "output directory")
    .option("--preset <name>", "tiny | small | tiny-gqa | tiny-qwen2", "tiny")
    .option("--dtype <dtype>", "f32 | bf16 | f16", "f32")
    .option("--seed <n>", "weight seed")
    .option("--shards <n>", "number of safetensors files")
    .action(async (o) => {
      const dir = await makeModelCli(o);
      process.stdout.write(`${dir}\n`);
    });

  program
    .command("worker")
    .description("run a worker (flags: see `radixserve worker --help`)")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments();

  return program;
}

async function main(argv: string[]): Promise<void> {
  // The worker parses its own flags: hand it everything after "worker", untouched.
  if (argv[2] === "worker") {
    process.exit(await runWorkerCli(argv.slice(3)));
  }
  try {
    await build().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
    throw err;
  }
}

main(process.argv).catch((err: unknown) => fatal(err instanceof Error ? err.message : String(err)));
