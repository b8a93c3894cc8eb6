/**
 * Server-sent events on a hijacked fastify reply: the headers, and a `send` that honours
 * back-pressure. When the client reads slower than the workers generate, the socket's buffer
 * fills and write() says so; `send` then waits for it to drain, so the caller's loop stops
 * pulling events, the gRPC streams stop being read and HTTP/2 flow control holds the worker back.
 * What one request buffers is bounded by the socket's buffer plus each stream's small window.
 */
import type { FastifyReply } from "fastify";

/** Resolves when the response can take more bytes again, or is gone. */
function drained(raw: FastifyReply["raw"]): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      raw.off("drain", done);
      raw.off("close", done);
      resolve();
    };
    raw.on("drain", done);
    raw.on("close", done);
  });
}

/** Hijacks `reply`, writes the SSE headers and returns the function that sends one `data:` event. */
export function openSse(reply: FastifyReply): (obj: unknown) => Promise<void> {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "x-accel-buffering": "no",
    "x-request-id": reply.request.id,
  });
  return async (obj: unknown): Promise<void> => {
    if (raw.destroyed) return;
    if (!raw.write(`data: ${JSON.stringify(obj)}\n\n`)) await drained(raw);
  };
}
