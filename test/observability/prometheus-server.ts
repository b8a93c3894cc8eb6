/**
 * A real Prometheus (Debian's `prometheus`, installed by scripts/services.mjs when missing) for the
 * metrics tests: scrapes the given /metrics URLs every second on a free loopback port, loads rule
 * files, and answers PromQL over its HTTP API. Its data lives in a temporary folder removed by
 * stop(); the process is killed at exit even when a test crashes. Also runs `promtool check`.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { debianTools, freePort, until } from "../cluster/services.js";

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

export interface PromSample {
  metric: Record<string, string>;
  values: [number, string][];
}

export interface Prometheus {
  url: string;
  /** Range query (step 1 s); throws on a PromQL error with the expression in the message. */
  queryRange(expr: string, startS: number, endS: number): Promise<PromSample[]>;
  /** Instant query. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  /** Values of a label over the series matching `match`. */
  labelValues(label: string, match: string): Promise<string[]>;
  /** Replaces the scraped targets (name -> /metrics URL); Prometheus picks the change up within seconds. */
  setTargets(targets: Record<string, string>): void;
  /** Waits until Prometheus has `count` targets and scraped each successfully. */
  waitForTargets(count: number, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

interface ApiAnswer<T> {
  status: string;
  data: T;
  error?: string;
}

/** `promtool check metrics` over one exposition: its complaints (empty = clean). */
export function promtoolCheckMetrics(text: string): string {
  const { promtool } = debianTools("promtool");
  const r = spawnSync(promtool, ["check", "metrics"], { input: text, encoding: "utf8" });
  const out = `${r.stdout}${r.stderr}`.trim();
  return r.status === 0 && out === "" ? "" : out || `promtool exited ${r.status}`;
}

/** `promtool check rules FILE`: null when it passes, else its output. */
export function promtoolCheckRules(file: string): string | null {
  const { promtool } = debianTools("promtool");
  const r = spawnSync(promtool, ["check", "rules", file], { encoding: "utf8" });
  return r.status === 0 ? null : `${r.stdout}${r.stderr}`;
}

/**
 * Starts Prometheus scraping `targets` (name -> /metrics URL, each series labelled target=name)
 * every second, with `ruleFiles`. setTargets() changes the set while it runs (file discovery).
 */
export async function startPrometheus(
  targets: Record<string, string>,
  ruleFiles: string[] = [],
): Promise<Prometheus> {
  const { prometheus } = debianTools("prometheus");
  const dir = mkdtempSync(join(tmpdir(), "radixserve-prom-"));
  const port = await freePort();
  const targetsFile = join(dir, "targets.json");
  const writeTargets = (t: Record<string, string>) => {
    const groups = Object.entries(t).map(([name, url]) => ({
      targets: [new URL(url).host],
      labels: { target: name },
    }));
    // Write then rename: Prometheus never reads a half-written file.
    writeFileSync(`${targetsFile}.tmp`, JSON.stringify(groups));
    renameSync(`${targetsFile}.tmp`, targetsFile);
  };
  writeTargets(targets);
  const config = [
    "global:",
    "  scrape_interval: 1s",
    "  scrape_timeout: 1s",
    "  evaluation_interval: 1s",
    `rule_files: [${ruleFiles.map((f) => JSON.stringify(f)).join(", ")}]`,
    "scrape_configs:",
    "  - job_name: radixserve",
    "    metrics_path: /metrics",
    "    file_sd_configs:",
    `      - files: [${JSON.stringify(targetsFile)}]`,
    "        refresh_interval: 1s",
    "",
  ].join("\n");
  writeFileSync(join(dir, "prometheus.yml"), config);
  const proc = spawn(
    prometheus,
    [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  live.add(proc);
  let log = "";
  proc.stderr!.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  void exited.then(() => live.delete(proc));
  const url = `http://127.0.0.1:${port}`;

  const api = async <T>(path: string, params: Record<string, string | string[]>): Promise<T> => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const x of [v].flat()) q.append(k, x);
    const res = await fetch(`${url}${path}?${q}`);
    const body = (await res.json()) as ApiAnswer<T>;
    if (body.status !== "success")
      throw new Error(`Prometheus ${path} ${JSON.stringify(params)}: ${body.error}`);
    return body.data;
  };

  const ready = await until(async () => {
    if (proc.exitCode !== null) return true;
    try {
      return (await fetch(`${url}/-/ready`)).ok;
    } catch {
      return false;
    }
  }, 30_000);
  if (!ready || proc.exitCode !== null) {
    proc.kill("SIGKILL");
    throw new Error(`prometheus did not start:\n${log}\nconfig:\n${config}`);
  }
  return {
    url,
    async queryRange(expr, startS, endS) {
      const d = await api<{ result: PromSample[] }>("/api/v1/query_range", {
        query: expr,
        start: String(startS),
        end: String(endS),
        step: "1",
      });
      return d.result;
    },
    async query(expr) {
      const d = await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
        "/api/v1/query",
        { query: expr },
      );
      return d.result;
    },
    async labelValues(label, match) {
      return api<string[]>(`/api/v1/label/${label}/values`, { "match[]": match });
    },
    setTargets: writeTargets,
    async waitForTargets(count, timeoutMs) {
      let last = "";
      const ok = await until(async () => {
        const d = await api<{ activeTargets: { health: string; scrapeUrl: string; lastError: string }[] }>(
          "/api/v1/targets",
          {},
        );
        last = d.activeTargets.map((t) => `${t.scrapeUrl} ${t.health} ${t.lastError}`).join("\n");
        return d.activeTargets.length === count && d.activeTargets.every((t) => t.health === "up");
      }, timeoutMs);
      if (!ok) throw new Error(`Prometheus targets not all up:\n${last}`);
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
