/**
 * Headless Chromium (Debian's `chromium`, installed by scripts/services.mjs when missing) for the
 * status-page test: loads a URL, lets its scripts run for a budget of virtual time (fetches
 * included), and returns the DOM or writes a screenshot. Each call is one short-lived browser
 * with its own throwaway profile.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { debianTools } from "../cluster/services.js";

const run = promisify(execFile);

async function chromium(url: string, mode: string[], budgetMs: number): Promise<string> {
  const { chromium: bin } = debianTools("chromium");
  const profile = mkdtempSync(join(tmpdir(), "radixserve-chromium-"));
  try {
    const { stdout } = await run(
      bin,
      [
        "--headless",
        "--no-sandbox", // tests run as root in CI containers
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        `--user-data-dir=${profile}`,
        "--window-size=1400,900",
        `--virtual-time-budget=${budgetMs}`,
        ...mode,
        url,
      ],
      { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
    );
    return stdout;
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** The page's DOM after `budgetMs` of virtual time. */
export function dumpDom(url: string, budgetMs = 7000): Promise<string> {
  return chromium(url, ["--dump-dom"], budgetMs);
}

/** Writes a PNG of the page after `budgetMs` of virtual time. */
export async function screenshot(url: string, file: string, budgetMs = 7000): Promise<void> {
  await chromium(url, [`--screenshot=${file}`], budgetMs);
}
