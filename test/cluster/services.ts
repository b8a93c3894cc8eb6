/**
 * Real redis-server and nats-server for the cluster tests, on free loopback ports. The binaries
 * come from scripts/services.mjs (which apt-get installs them on a fresh Debian machine). Each
 * service can be restarted on the same port (the "Redis / NATS restarts mid-load" tests) and is
 * always killed at process exit, even when a test crashes.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createServer, Socket } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { killOnExit, waitFor } from "@radixserve/testkit";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

let binaries: { redis: string; nats: string } | null = null;

/** Paths of redis-server and nats-server, installing them if needed (once per process). */
export function serviceBinaries(): { redis: string; nats: string } {
  binaries ??= JSON.parse(
    execFileSync(process.execPath, [join(ROOT, "scripts", "services.mjs")], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      timeout: 600_000,
    }),
  ) as { redis: string; nats: string };
  return binaries;
}

/**
 * Paths of other Debian programs the tests start (keys of scripts/services.mjs: prometheus,
 * promtool, chromium), installing the missing ones with apt-get (once per key and process).
 */
export function debianTools<K extends "prometheus" | "promtool" | "chromium">(
  ...keys: K[]
): Record<K, string> {
  return JSON.parse(
    execFileSync(process.execPath, [join(ROOT, "scripts", "services.mjs"), ...keys], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      timeout: 900_000,
    }),
  ) as Record<K, string>;
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function portOpen(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const sock = new Socket();
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
    sock.connect(port, "127.0.0.1");
  });
}

export interface Service {
  readonly port: number;
  readonly url: string;
  /** Kills the server (SIGKILL: an outage, not a graceful stop) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: Redis runs without persistence). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

function service(name: string, port: number, url: string, argv: () => [string, string[]]): Service {
  let proc: ChildProcess | null = null;
  let log = "";
  const s: Service = {
    port,
    url,
    async start() {
      const [cmd, args] = argv();
      log = "";
      const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
      proc = p;
      killOnExit(p);
      p.stdout!.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-2000)));
      p.stderr!.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-2000)));
      const until = Date.now() + 10_000;
      while (!(await portOpen(port))) {
        if (p.exitCode !== null) throw new Error(`${name} exited (${p.exitCode}) at start:\n${log}`);
        if (Date.now() > until) throw new Error(`${name} did not listen on ${port} in 10 s:\n${log}`);
        await new Promise((r) => setTimeout(r, 30));
      }
    },
    async kill() {
      const p = proc;
      proc = null;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise<void>((r) => p.once("exit", () => r()));
      p.kill("SIGKILL");
      await exited;
    },
    stop() {
      return s.kill();
    },
  };
  return s;
}

export async function startRedis(): Promise<Service> {
  const { redis } = serviceBinaries();
  const port = await freePort();
  const s = service("redis-server", port, `redis://127.0.0.1:${port}`, () => [
    redis,
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--protected-mode",
      "no",
    ],
  ]);
  await s.start();
  return s;
}

export async function startNats(): Promise<Service> {
  const { nats } = serviceBinaries();
  const port = await freePort();
  const s = service("nats-server", port, `127.0.0.1:${port}`, () => [
    nats,
    ["-a", "127.0.0.1", "-p", String(port)],
  ]);
  await s.start();
  return s;
}

/** Polls `check` every 25 ms until true or `timeoutMs`; returns whether it became true. */
export function until(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  return waitFor(check, timeoutMs, 25);
}
