/**
 * Raw HTTP/1.x over a socket for the gateway's security tests: the request line and headers go
 * out byte for byte as written (no client normalises the path, the method or the version), and
 * the answer comes back as status, headers and body.
 */
import { connect } from "node:net";

export interface RawResponse {
  /** 0 when the server closed the connection without a status line. */
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Everything the server sent. */
  raw: string;
}

/** Sends `request` exactly and reads until the server closes the connection (or `timeoutMs`). */
export function rawRequest(port: number, request: string | Buffer, timeoutMs = 5000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer in ${timeoutMs} ms to ${JSON.stringify(String(request).slice(0, 80))}`));
    }, timeoutMs);
    socket.on("data", (d) => chunks.push(d));
    socket.on("error", () => {}); // a reset after the answer is fine; the close below resolves
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(parse(Buffer.concat(chunks).toString("latin1")));
    });
    socket.write(request);
  });
}

function parse(raw: string): RawResponse {
  const head = raw.indexOf("\r\n\r\n");
  const lines = (head >= 0 ? raw.slice(0, head) : raw).split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(":");
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: m ? Number(m[1]) : 0, headers, body: head >= 0 ? raw.slice(head + 4) : "", raw };
}

/** A request with `Connection: close` (HTTP/1.1 needs a Host; HTTP/1.0 goes without one). */
export function requestText(
  method: string,
  target: string,
  opts: { version?: string; headers?: Record<string, string>; body?: string } = {},
): string {
  const version = opts.version ?? "HTTP/1.1";
  const headers: Record<string, string> = {
    ...(version === "HTTP/1.1" ? { host: "127.0.0.1" } : {}),
    connection: "close",
    ...(opts.body !== undefined
      ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(opts.body)) }
      : {}),
    ...opts.headers,
  };
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
  return `${method} ${target} ${version}\r\n${lines.join("\r\n")}\r\n\r\n${opts.body ?? ""}`;
}
