/**
 * Who may call what: the API key is checked on the route fastify MATCHED, never on the raw URL,
 * and every route needs it unless it is declared open. So whatever spelling of a path reaches a
 * route (percent-encoding, an absolute-form request line, ...), the check is the route's own; a
 * request that matches no route needs the key too (deny by default), so probing unknown or
 * mangled paths without a key answers 401, not 404.
 *
 * Open routes carry `config: { open: true }` (health probes; /metrics unless
 * `metricsRequireKey`). A request whose decoded path names an open route but with another method
 * passes too, so the 405 handler can answer it.
 *
 * Also here: 405 Method Not Allowed (with `Allow`) for a known path asked with another method,
 * and for methods Node's HTTP parser does not know at all (those never reach fastify: they are
 * answered from the client-error hook).
 */

import { timingSafeEqual } from "node:crypto";
import type { Socket } from "node:net";
import { RadixServeError } from "@radixserve/core";
import type { FastifyInstance } from "fastify";
import { RouterError } from "../errors.js";

export interface AccessOptions {
  /** When set, every route not declared open needs `Authorization: Bearer <apiKey>`. */
  apiKey?: string | undefined;
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** The route answers without the API key (health probes, open metrics). */
    open?: boolean;
  }
}

/** Constant-time comparison of the bearer token with the key. */
export function keyMatches(header: string | undefined, key: string): boolean {
  if (!header?.startsWith("Bearer ")) return false;
  const given = Buffer.from(header.slice("Bearer ".length).trim());
  const want = Buffer.from(key);
  return given.length === want.length && timingSafeEqual(given, want);
}

/**
 * The path a request line names, for the 405 lookup only (authorization never uses it): the
 * origin of an absolute-form target and the query are dropped, percent-escapes decoded once.
 * Null when the escapes are malformed.
 */
export function requestPath(url: string): string | null {
  let path = url;
  const abs = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(path);
  if (abs) path = path.slice(abs[0].length) || "/";
  const q = path.search(/[?#]/);
  if (q >= 0) path = path.slice(0, q);
  try {
    return decodeURIComponent(path);
  } catch {
    return null;
  }
}

/**
 * Routes by path: which methods each serves, and whether it is open. A parametric route
 * (`/v1/models/:id`) matches any one non-empty segment where its parameter stands.
 */
class RouteTable {
  private readonly routes = new Map<string, { match: RegExp; methods: Set<string>; open: boolean }>();

  add(path: string, methods: string | string[], open: boolean): void {
    let route = this.routes.get(path);
    if (!route) {
      route = { match: routePattern(path), methods: new Set(), open: false };
      this.routes.set(path, route);
    }
    for (const m of Array.isArray(methods) ? methods : [methods]) route.methods.add(m.toUpperCase());
    if (open) route.open = true;
  }

  allowed(path: string | null): string[] | null {
    const route = this.find(path);
    return route ? [...route.methods].sort() : null;
  }

  isOpen(path: string | null): boolean {
    return this.find(path)?.open === true;
  }

  private find(path: string | null) {
    if (path === null) return undefined;
    const exact = this.routes.get(path);
    if (exact) return exact;
    for (const route of this.routes.values()) if (route.match.test(path)) return route;
    return undefined;
  }
}

/** A route url as a whole-path pattern: `:name` segments match one non-empty segment. */
function routePattern(url: string): RegExp {
  const parts = url
    .split("/")
    .map((seg) => (seg.startsWith(":") ? "[^/]+" : seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
  return new RegExp(`^${parts.join("/")}$`);
}

function unauthorized(header: string | undefined): RadixServeError {
  return new RadixServeError(
    "unauthorized",
    header
      ? "Incorrect API key provided."
      : "You didn't provide an API key: send it as 'Authorization: Bearer <key>'.",
  );
}

/**
 * Installs the key check (an onRequest hook) and the 404/405 handler. Call before the routes are
 * added (the route table listens for them). Requests Node's parser rejects are answered by
 * {@link answerClientError}, given to fastify as its `clientErrorHandler`.
 */
export function installAccessControl(app: FastifyInstance, opts: AccessOptions): void {
  const table = new RouteTable();
  app.addHook("onRoute", (route) => {
    table.add(route.url, route.method, route.config?.open === true);
  });

  app.addHook("onRequest", async (req, reply) => {
    const matched = req.routeOptions.url !== undefined;
    const path = matched ? null : requestPath(req.url);
    const keyed = opts.apiKey !== undefined && req.routeOptions.config.open !== true;
    // A request that matched no route needs the key unless its path is an open route's.
    if (
      keyed &&
      !(path !== null && table.isOpen(path)) &&
      !keyMatches(req.headers.authorization, opts.apiKey!)
    )
      throw unauthorized(req.headers.authorization);
    // A known path with another method: 405 here, before any body is read or parsed.
    const allow = matched ? null : table.allowed(path);
    if (allow) {
      void reply.header("allow", allow.join(", "));
      throw new RouterError("method_not_allowed", `Method ${req.method} is not allowed here.`);
    }
  });

  // Known paths were answered 405 by the hook above: what reaches here has no route at all.
  app.setNotFoundHandler(() => {
    throw new RouterError("route_not_found", "Unknown route.");
  });
}

/** fastify's `clientErrorHandler`: 405 for an unknown method, 400 for any other bad request line. */
export function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) return;
  const unknownMethod = err.code === "HPE_INVALID_METHOD";
  const status = unknownMethod ? "405 Method Not Allowed" : "400 Bad Request";
  const body = JSON.stringify({
    error: {
      message: unknownMethod ? "Unknown HTTP method." : "Malformed HTTP request.",
      type: "invalid_request_error",
      param: null,
      code: unknownMethod ? "method_not_allowed" : "invalid_request",
    },
  });
  socket.end(
    `HTTP/1.1 ${status}\r\n` +
      (unknownMethod ? "Allow: GET, HEAD, POST\r\n" : "") +
      "Content-Type: application/json\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      "Connection: close\r\n\r\n" +
      body,
  );
}
