/**
 * GET /dashboard: the live status page (an HTML shell with no cluster data in it, open so a
 * browser can load it). GET /dashboard/state: the JSON it polls. The state names every worker's
 * address, load and last error, so when the router has an API key it needs the key like /v1/*
 * (the page asks for it); without a key the router is open and so is the page.
 */
import { RadixServeError } from "@radixserve/core";
import type { FastifyInstance } from "fastify";
import { keyMatches } from "../gateway/api-key.js";
import type { RouterMetrics } from "../gateway/router-metrics.js";
import type { WorkerPool } from "../workers/worker-pool.js";
import { StatusBoard } from "./status-board.js";
import { STATUS_PAGE_HTML } from "./status-page.js";

export interface StatusPageOptions {
  pool: WorkerPool;
  metrics: RouterMetrics;
  apiKey?: string | undefined;
}

export function registerStatusPage(app: FastifyInstance, opts: StatusPageOptions): void {
  const board = new StatusBoard(opts.pool, opts.metrics);
  app.get("/dashboard", async (_req, reply) =>
    reply
      .header("cache-control", "no-store")
      .header(
        "content-security-policy",
        "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
      )
      .type("text/html; charset=utf-8")
      .send(STATUS_PAGE_HTML),
  );
  app.get("/dashboard/state", async (req, reply) => {
    if (opts.apiKey && !keyMatches(req.headers.authorization, opts.apiKey))
      throw new RadixServeError(
        "unauthorized",
        req.headers.authorization ? "Incorrect API key provided." : "The status page needs the API key.",
      );
    return reply.header("cache-control", "no-store").send(board.state());
  });
}
