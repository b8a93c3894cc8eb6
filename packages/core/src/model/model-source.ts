/**
 * What `--model-path` names, resolved to a local path the engine and tokenizer can open:
 *
 * - absent: the default model (SmolLM2-135M-Instruct from the cache, fetched once; the tiny random
 *   model when it cannot be had, with one log line saying why);
 * - an existing path: itself (a Hugging Face directory, a .gguf file, or a directory holding one);
 * - `org/name`: the model downloaded from the Hugging Face Hub into the cache (`--revision`).
 *
 * Anything else is one clear error naming the value.
 */
import { existsSync } from "node:fs";
import { RadixServeError } from "../errors/index.js";
import { DEFAULT_MODEL, resolveDefaultModel } from "./default-model.js";
import { downloadHubModel, isHubModelId } from "./hub-download.js";
import { modelCacheRoot } from "./make-model.js";

export interface ModelSourceOptions {
  /** Cache root override (else $RADIXSERVE_CACHE, else ~/.cache/radixserve). */
  cacheDir?: string | undefined;
  /** Hub revision for `org/name` (branch, tag or commit; default main). */
  revision?: string | undefined;
  /** Where the one-line notes go (default model chosen or fallen back, files downloaded). */
  log: (line: string) => void;
}

export interface ResolvedModel {
  /** A local path the engine and tokenizer open. */
  path: string;
  /** The name clients should use when the path's own name is not it (Hub ids, the default model). */
  servedModelName?: string;
}

export async function resolveModelPath(
  spec: string | undefined,
  opts: ModelSourceOptions,
): Promise<ResolvedModel> {
  if (spec === undefined || spec === "") {
    if (opts.revision !== undefined)
      throw new RadixServeError(
        "invalid_request",
        "--revision needs --model-path org/name (a Hugging Face model id)",
      );
    const d = await resolveDefaultModel(opts.cacheDir);
    if (d.fallbackReason !== undefined)
      opts.log(
        `default model ${DEFAULT_MODEL.name} not available (${d.fallbackReason}); serving the tiny random-weight model ${d.path} (its text is gibberish)`,
      );
    else opts.log(`no --model-path: serving the default model ${DEFAULT_MODEL.name} (${d.path})`);
    return d.fallbackReason !== undefined
      ? { path: d.path }
      : { path: d.path, servedModelName: DEFAULT_MODEL.name };
  }
  if (existsSync(spec)) {
    if (opts.revision !== undefined)
      throw new RadixServeError(
        "invalid_request",
        `--revision applies to Hugging Face model ids, not the local path ${spec}`,
      );
    return { path: spec };
  }
  if (isHubModelId(spec)) {
    const dir = await downloadHubModel(spec, {
      cacheRoot: modelCacheRoot(opts.cacheDir),
      revision: opts.revision,
      log: (line) => opts.log(`downloading ${line}`),
    });
    opts.log(`model ${spec}: ${dir}`);
    return { path: dir, servedModelName: spec };
  }
  throw new RadixServeError(
    "invalid_request",
    `--model-path ${spec}: no such file or directory (and not a Hugging Face model id "org/name")`,
  );
}
