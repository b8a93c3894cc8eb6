/**
 * Rotary position settings from config.json, in either layout transformers writes:
 *
 * - transformers 4: top-level `rope_theta` and `rope_scaling` ({ rope_type | type, factor, ... });
 * - transformers 5: `rope_parameters` ({ rope_theta, rope_type, factor, low_freq_factor,
 *   high_freq_factor, original_max_position_embeddings, partial_rotary_factor }).
 *
 * Implemented: rope type "default" (plain RoPE at `rope_theta`) and "llama3" (frequency-dependent
 * scaling of inv_freq). Any other type (linear, dynamic, yarn, longrope, ...) and a partial rotary
 * factor other than 1 are refused with the key and its value. When both layouts are present they
 * must agree.
 */
import { EngineError } from "./errors.js";

export interface RopeScaling {
  type: "llama3";
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

export interface RopeConfig {
  theta: number;
  scaling: RopeScaling | null;
}

type Json = Record<string, unknown>;

const DEFAULT_THETA = 10000;

function invalid(path: string, problem: string): never {
  throw new EngineError("model_invalid", `${path}: ${problem}`);
}

function unsupported(path: string, key: string, value: unknown, why: string): never {
  throw new EngineError(
    "model_unsupported",
    `${path}: ${key} = ${JSON.stringify(value)} is not supported (${why})`,
  );
}

function positive(path: string, obj: Json, where: string, key: string, fallback: number): number {
  const v = obj[key] ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0)
    invalid(path, `"${where}${key}" must be a positive number (got ${JSON.stringify(obj[key])})`);
  return v;
}

/** Reads one scaling object (`rope_scaling` or `rope_parameters`); `where` prefixes key names in errors. */
function scalingFrom(path: string, r: Json, where: string): RopeScaling | null {
  const typeKey = r["rope_type"] !== undefined ? "rope_type" : "type";
  const type = r[typeKey] ?? "default";
  if (type === "default") return null;
  if (type !== "llama3")
    unsupported(path, `${where}${typeKey}`, type, 'implemented rope types: "default", "llama3"');
  const omp = r["original_max_position_embeddings"] ?? 8192;
  if (typeof omp !== "number" || !Number.isInteger(omp) || omp <= 0)
    invalid(
      path,
      `"${where}original_max_position_embeddings" must be a positive integer (got ${JSON.stringify(omp)})`,
    );
  return {
    type: "llama3",
    factor: positive(path, r, where, "factor", 8),
    lowFreqFactor: positive(path, r, where, "low_freq_factor", 1),
    highFreqFactor: positive(path, r, where, "high_freq_factor", 4),
    originalMaxPositionEmbeddings: omp,
  };
}

function checkPartialRotary(path: string, obj: Json, where: string): void {
  const v = obj["partial_rotary_factor"];
  if (v !== undefined && v !== null && v !== 1 && v !== 1.0)
    unsupported(path, `${where}partial_rotary_factor`, v, "rotary embedding on every head dimension only");
}

function object(path: string, c: Json, key: string): Json | null {
  const v = c[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== "object" || Array.isArray(v)) invalid(path, `"${key}" must be an object`);
  return v as Json;
}

/** Reads the rope settings of config.json `c` (read from `path`, named in errors). */
export function readRopeConfig(path: string, c: Json): RopeConfig {
  checkPartialRotary(path, c, "");
  const params = object(path, c, "rope_parameters");
  const legacy = object(path, c, "rope_scaling");
  const legacyTheta =
    c["rope_theta"] === undefined ? undefined : positive(path, c, "", "rope_theta", DEFAULT_THETA);
  const legacyScaling = legacy === null ? null : scalingFrom(path, legacy, "rope_scaling.");
  if (params === null) return { theta: legacyTheta ?? DEFAULT_THETA, scaling: legacyScaling };

  checkPartialRotary(path, params, "rope_parameters.");
  const theta = positive(path, params, "rope_parameters.", "rope_theta", legacyTheta ?? DEFAULT_THETA);
  const scaling = scalingFrom(path, params, "rope_parameters.");
  if (legacyTheta !== undefined && legacyTheta !== theta)
    invalid(path, `rope_theta ${legacyTheta} and rope_parameters.rope_theta ${theta} disagree`);
  if (legacy !== null && JSON.stringify(legacyScaling) !== JSON.stringify(scaling))
    invalid(path, "rope_scaling and rope_parameters disagree");
  return { theta, scaling };
}
