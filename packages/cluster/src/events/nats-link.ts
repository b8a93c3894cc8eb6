/**
 * A NATS connection that never blocks its owner: start() returns at once and connects in the
 * background, retrying every `retryMs` until it succeeds or stop() is called; once connected the
 * client (nats.js v3, `@nats-io/transport-node`, the maintained successor of the `nats` package)
 * reconnects forever by itself and restores subscriptions. Owners register `onConnect` hooks to
 * subscribe (run once per underlying connection) and read `connected` to know whether what they
 * publish can currently go out. Status changes are emitted as "status" (connected: boolean).
 *
 * Why not `waitOnFirstConnect`: that promise cannot be cancelled, so a process whose NATS never
 * came up could not stop cleanly.
 */
import { EventEmitter } from "node:events";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { getLogger } from "@radixserve/core";

const log = getLogger("events");

export interface NatsLinkOptions {
  /** "host:port" list, comma-separated or an array. */
  servers: string | string[];
  /** Name shown by the server (`nats-server` connz). */
  name?: string;
  /** Delay between first-connect attempts and between reconnects. Default 250 ms. */
  retryMs?: number;
}

export class NatsLink extends EventEmitter {
  private nc: NatsConnection | null = null;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private up = false;
  private failures = 0;
  private readonly hooks: ((nc: NatsConnection) => void)[] = [];
  private readonly servers: string[];
  private readonly retryMs: number;

  constructor(private readonly opts: NatsLinkOptions) {
    super();
    this.servers = (Array.isArray(opts.servers) ? opts.servers : opts.servers.split(","))
      .map((s) => s.trim())
      .filter((s) => s !== "");
    if (this.servers.length === 0) throw new Error("NATS: no server address given");
    this.retryMs = opts.retryMs ?? 250;
  }

  /** True while a connection is up (publishes go out; while down nats.js buffers, then we drop). */
  get connected(): boolean {
    return this.up;
  }

  /** The live connection, or null before the first connect / after stop. */
  get connection(): NatsConnection | null {
    return this.nc;
  }

  /** Runs `hook` on the connection now if there is one, and on every later first connect. */
  onConnect(hook: (nc: NatsConnection) => void): void {
    this.hooks.push(hook);
    if (this.nc) hook(this.nc);
  }

  start(): void {
    if (this.stopped || this.nc || this.timer) return;
    void this.attempt();
  }

  /** Resolves once connected, or false after `timeoutMs`. */
  async waitConnected(timeoutMs: number): Promise<boolean> {
    if (this.up) return true;
    return await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => {
        this.off("status", on);
        resolve(false);
      }, timeoutMs);
      const on = (up: boolean): void => {
        if (!up) return;
        clearTimeout(t);
        this.off("status", on);
        resolve(true);
      };
      this.on("status", on);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const nc = this.nc;
    this.nc = null;
    this.setUp(false);
    if (nc && !nc.isClosed()) await nc.close().catch(() => {});
  }

  private async attempt(): Promise<void> {
    this.timer = null;
    if (this.stopped) return;
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: this.servers,
        name: this.opts.name,
        timeout: 1000,
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: this.retryMs,
        pingInterval: 2000,
      });
    } catch (err) {
      if (!this.stopped) {
        // Warn once per outage (then debug): a worker or router without NATS keeps working.
        const fields = { servers: this.servers, err: (err as Error).message };
        if (this.failures++ === 0) log.warn(fields, "NATS not reachable; retrying in the background");
        else log.debug(fields, "NATS not reachable; retrying");
        this.timer = setTimeout(() => void this.attempt(), this.retryMs);
        this.timer.unref();
      }
      return;
    }
    if (this.stopped) {
      await nc.close().catch(() => {});
      return;
    }
    this.nc = nc;
    this.failures = 0;
    this.setUp(true);
    for (const h of this.hooks) h(nc);
    void this.watch(nc);
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") this.setUp(false);
      else if (s.type === "reconnect") this.setUp(true);
    }
    // The iterator ends when the connection closes for good.
    if (this.nc === nc) {
      this.nc = null;
      this.setUp(false);
      if (!this.stopped) {
        this.timer = setTimeout(() => void this.attempt(), this.retryMs);
        this.timer.unref();
      }
    }
  }

  private setUp(up: boolean): void {
    if (this.up === up) return;
    this.up = up;
    if (up) log.info({ servers: this.servers }, "NATS connected");
    else if (!this.stopped) log.warn({ servers: this.servers }, "NATS disconnected");
    this.emit("status", up);
  }
}
