/**
 * One structured logger (pino) for every process, writing JSON lines to stderr (stdout is reserved
 * for machine-read lines such as the worker's READY line).
 *
 * - Level: RADIXSERVE_LOG_LEVEL (default "info") or {@link setLogLevel} (the --log-level flag).
 * - Per-component debug categories: `getLogger("scheduler")` logs at debug level when
 *   RADIXSERVE_DEBUG lists "scheduler" (comma-separated; "*" or "all" enables every category),
 *   without turning on debug output for the rest of the process.
 * - Prompts and token ids are redacted by default (fields named prompt, messages, inputIds, tokens,
 *   outputIds, text ... at the top level or one level down). RADIXSERVE_LOG_PROMPTS=1 keeps them,
 *   for local debugging only.
 */
import pino, { type Logger } from "pino";

export type { Logger } from "pino";

const SENSITIVE_KEYS = [
  "prompt",
  "messages",
  "inputIds",
  "input_ids",
  "tokens",
  "tokenIds",
  "outputIds",
  "output_ids",
  "text",
  "content",
];

export const REDACT_PATHS: readonly string[] = [...SENSITIVE_KEYS, ...SENSITIVE_KEYS.map((k) => `*.${k}`)];

function debugCategories(): Set<string> {
  const raw = process.env["RADIXSERVE_DEBUG"] ?? "";
  return new Set(
    raw
      .split(",")
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s.length > 0),
  );
}

let root: Logger | undefined;
const children = new Map<string, Logger>();

function rootLogger(): Logger {
  if (root) return root;
  const keepPrompts = process.env["RADIXSERVE_LOG_PROMPTS"] === "1";
  root = pino(
    {
      level: process.env["RADIXSERVE_LOG_LEVEL"] ?? "info",
      base: { pid: process.pid },
      redact: keepPrompts ? undefined : { paths: [...REDACT_PATHS], censor: "[redacted]" },
    },
    pino.destination({ fd: 2, sync: true }),
  );
  return root;
}

/** True when RADIXSERVE_DEBUG enables this component's debug category. */
export function isDebugEnabled(component: string): boolean {
  const cats = debugCategories();
  return cats.has("*") || cats.has("all") || cats.has(component.toLowerCase());
}

/** The child logger of one component (router, scheduler, worker, engine, cache, ...). */
export function getLogger(component: string): Logger {
  const existing = children.get(component);
  if (existing) return existing;
  const parent = rootLogger();
  const child = parent.child({ component });
  // A category enabled in RADIXSERVE_DEBUG lowers only this child's level.
  if (isDebugEnabled(component) && parent.levelVal > pino.levels.values["debug"]!) child.level = "debug";
  children.set(component, child);
  return child;
}

/** Sets the level of the root logger and every component logger not raised to debug by a category. */
export function setLogLevel(level: string): void {
  if (!Object.hasOwn(pino.levels.values, level) && level !== "silent")
    throw new Error(`unknown log level '${level}' (use trace, debug, info, warn, error, fatal or silent)`);
  const r = rootLogger();
  r.level = level;
  for (const [component, child] of children) {
    child.level = isDebugEnabled(component) && r.levelVal > pino.levels.values["debug"]! ? "debug" : level;
  }
}
