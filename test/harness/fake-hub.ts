// A local HTTP server that plays the Hugging Face Hub's file API, as far as the Hub client library
// uses it to download a model: model info by revision (commit sha, file list), paths-info, and
// file bytes from /resolve/ with Range requests. Repos may be gated (a bearer token required).
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeRepo {
  /** revision name (branch or tag) -> commit sha (40 hex). */
  revisions: Record<string, string>;
  /** path -> bytes, the same at every revision. */
  files: Record<string, Uint8Array>;
  /** When set, requests must carry `Authorization: Bearer <token>`. */
  token?: string;
}

export interface FakeHub {
  url: string;
  /** Paths of files whose bytes were served (GET /resolve/ without the 1-byte probe). */
  downloads: string[];
  close(): Promise<void>;
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

export async function startFakeHub(repos: Record<string, FakeRepo>): Promise<FakeHub> {
  const downloads: string[] = [];
  const commitOf = (repo: FakeRepo, rev: string) =>
    repo.revisions[rev] ?? (Object.values(repo.revisions).includes(rev) ? rev : undefined);
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://x");
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    const api = parts[0] === "api" && parts[1] === "models";
    const [org, name] = api ? [parts[2], parts[3]] : [parts[0], parts[1]];
    const repo = repos[`${org}/${name}`];
    if (!repo) return json(res, 404, { error: "Repository not found" }, { "x-error-code": "RepoNotFound" });
    if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`)
      return json(res, 401, { error: "Access to this model is restricted" }, { "x-error-code": "GatedRepo" });
    if (api && parts[4] === "revision") {
      const sha = commitOf(repo, parts[5] ?? "main");
      if (!sha) return json(res, 404, { error: "Invalid rev id" }, { "x-error-code": "RevisionNotFound" });
      return json(res, 200, {
        _id: "0",
        id: `${org}/${name}`,
        sha,
        private: false,
        siblings: Object.keys(repo.files).map((rfilename) => ({ rfilename })),
      });
    }
    if (api && parts[4] === "paths-info" && req.method === "POST") {
      const sha = commitOf(repo, parts[5] ?? "main");
      let body = "";
      for await (const chunk of req) body += chunk;
      const { paths } = JSON.parse(body) as { paths: string[] };
      if (!sha) return json(res, 404, { error: "Invalid rev id" });
      return json(
        res,
        200,
        paths
          .filter((p) => repo.files[p])
          .map((p) => ({
            type: "file",
            path: p,
            size: repo.files[p]!.length,
            oid: createHash("sha1").update(repo.files[p]!).digest("hex"),
            lastCommit: { id: sha, title: "add", date: "2026-12-01T00:00:00.000Z" },
          })),
      );
    }
    if (!api && parts[2] === "resolve") {
      const sha = commitOf(repo, parts[3] ?? "main");
      const path = parts.slice(4).join("/");
      const bytes = repo.files[path];
      if (!sha || !bytes)
        return json(res, 404, { error: "Entry not found" }, { "x-error-code": "EntryNotFound" });
      const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
      const start = range ? Number(range[1]) : 0;
      const end = range?.[2] ? Math.min(Number(range[2]), bytes.length - 1) : bytes.length - 1;
      if (!(range && start === 0 && end === 0)) downloads.push(path);
      res.writeHead(range ? 206 : 200, {
        "content-type": "application/octet-stream",
        "content-length": String(end - start + 1),
        "x-repo-commit": sha,
        etag: `"${createHash("sha1").update(bytes).digest("hex")}"`,
        ...(range ? { "content-range": `bytes ${start}-${end}/${bytes.length}` } : {}),
      });
      res.end(Buffer.from(bytes.subarray(start, end + 1)));
      return;
    }
    json(res, 404, { error: `no route ${req.method} ${url.pathname}` });
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => json(res, 500, { error: err.message }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    downloads,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
