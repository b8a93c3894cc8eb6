/**
 * GET /dashboard: the live status page (an HTML shell with no cluster data in it, open so a
 * browser can load it). GET /dashboard/state: the JSON it polls. The state names every worker's
 * address, load and last error, so it needs the API key like /v1/* (the gateway's access control:
 * every route not declared open); the page asks for the key once and sends it.
 */
import type { FastifyInstance } from "fastify";
import type { RouterMetrics } from "../gateway/router-metrics.js";
import type { WorkerPool } from "../workers/worker-pool.js";
import { StatusBoard } from "./status-board.js";
import { STATUS_PAGE_HTML } from "./status-page.js";

export interface StatusPageOptions {
  pool: WorkerPool;
  metrics: RouterMetrics;
}

export function registerStatusPage(app: FastifyInstance, opts: StatusPageOptions): void {
  const board = new StatusBoard(opts.pool, opts.metrics);
  app.get("/dashboard", { config: { open: true } }, async (_req, reply) =>
    reply
      .header("cache-control", "no-store")
      .header(
        "content-security-policy",
        "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
      )
      .type("text/html; charset=utf-8")
      .send(STATUS_PAGE_HTML),
  );
  app.get("/dashboard/state", async (_req, reply) =>
    reply.header("cache-control", "no-store").send(board.state()),
  );
}
