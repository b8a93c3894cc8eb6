/**
 * `--model-path org/name`: the model's files downloaded from the Hugging Face Hub into the cache
 * (the Hub's own cache layout under `<cache root>/hub`: blobs by hash, `snapshots/<commit>/<file>`
 * links), through the Hub's client library (@huggingface/hub).
 *
 * - Revision: `--revision` (branch, tag or commit; default "main") is resolved to its commit
 *   first, so every file lands in one snapshot folder, and a later start finds them there.
 * - Files: config.json, generation_config.json, the tokenizer files, chat_template.jinja and the
 *   safetensors weights (single or sharded). Other files (PyTorch .bin, original/ checkpoints,
 *   GGUF variants) are not fetched.
 * - `HF_TOKEN` is sent for gated and private models; `HF_ENDPOINT` replaces https://huggingface.co.
 * - Offline, unknown model, gated without a token: one line saying which.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { downloadFileToCacheDir, modelInfo } from "@huggingface/hub";
import { RadixServeError } from "../errors/index.js";

export interface HubDownloadOptions {
  /** The cache root (`modelCacheRoot()`); files go under `<root>/hub`. */
  cacheRoot: string;
  /** Branch, tag or commit; default "main". */
  revision?: string | undefined;
  /** Access token; default $HF_TOKEN. */
  token?: string | undefined;
  /** Hub URL; default $HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string | undefined;
  /** Progress lines (one per file). */
  log?: (line: string) => void;
}

/** How long the first request may take before the Hub counts as unreachable. */
const CONNECT_TIMEOUT_MS = 20_000;

const WANTED = [
  /^config\.json$/,
  /^generation_config\.json$/,
  /^tokenizer\.json$/,
  /^tokenizer_config\.json$/,
  /^special_tokens_map\.json$/,
  /^chat_template\.jinja$/,
  /^model\.safetensors$/,
  /^model\.safetensors\.index\.json$/,
  /^model-\d+-of-\d+\.safetensors$/,
];

/** `org/name`: what the Hub calls a model id (and not a path that exists here). */
export function isHubModelId(spec: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/.test(spec) && !existsSync(spec);
}

function fail(id: string, problem: string, cause?: unknown): never {
  throw new RadixServeError("invalid_request", `--model-path ${id}: ${problem}`, { cause });
}

function explain(id: string, endpoint: string, revision: string, err: unknown): never {
  const e = err as { statusCode?: number; message?: string; cause?: { code?: string; message?: string } };
  if (e.statusCode === 401 || e.statusCode === 403)
    fail(id, `the Hub refused access (HTTP ${e.statusCode}): a gated or private model needs HF_TOKEN`, err);
  if (e.statusCode === 404) fail(id, `no such model or revision "${revision}" on ${endpoint}`, err);
  if (e.statusCode !== undefined) fail(id, `the Hub answered HTTP ${e.statusCode} (${e.message})`, err);
  const why = e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
  fail(
    id,
    `cannot reach ${endpoint} (${why}); offline machines need a local directory or .gguf file as --model-path`,
    err,
  );
}

/** Downloads (or finds in the cache) the model's files; returns the snapshot directory. */
export async function downloadHubModel(id: string, opts: HubDownloadOptions): Promise<string> {
  const endpoint = (opts.endpoint ?? process.env["HF_ENDPOINT"] ?? "https://huggingface.co").replace(
    /\/+$/,
    "",
  );
  const revision = opts.revision ?? "main";
  const token = opts.token ?? process.env["HF_TOKEN"] ?? undefined;
  const cacheDir = join(opts.cacheRoot, "hub");
  const credentials = token ? { accessToken: token } : {};
  let info: { sha?: unknown; filePaths?: string[] };
  try {
    info = await modelInfo({
      name: id,
      revision,
      hubUrl: endpoint,
      additionalFields: ["sha", "filePaths"],
      fetch: (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(CONNECT_TIMEOUT_MS) }),
      ...credentials,
    });
  } catch (err) {
    explain(id, endpoint, revision, err);
  }
  const commit = info.sha;
  if (typeof commit !== "string" || !/^[0-9a-f]{40}$/.test(commit))
    fail(id, `the Hub gave no commit for revision "${revision}"`);
  const files = (info.filePaths ?? []).filter((p) => WANTED.some((re) => re.test(p)));
  if (!files.includes("config.json")) {
    const ggufs = (info.filePaths ?? []).filter((p) => p.endsWith(".gguf"));
    fail(
      id,
      ggufs.length > 0
        ? `holds GGUF files (${ggufs.slice(0, 4).join(", ")}${ggufs.length > 4 ? ", ..." : ""}) and no config.json: download the one you want and pass its path`
        : "has no config.json (not a transformers checkpoint)",
    );
  }
  let snapshotDir = "";
  for (const path of files) {
    opts.log?.(`${id}@${commit.slice(0, 12)}: ${path}`);
    let local: string;
    try {
      local = await downloadFileToCacheDir({
        repo: id,
        path,
        revision: commit,
        hubUrl: endpoint,
        cacheDir,
        ...credentials,
      });
    } catch (err) {
      explain(id, endpoint, revision, err);
    }
    if (path === "config.json") snapshotDir = local.slice(0, -"/config.json".length);
  }
  return snapshotDir;
}
