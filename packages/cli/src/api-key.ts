/**
 * Where the router's API key comes from, in this order: `--api-key KEY`, `--api-key-file PATH`
 * (the file's content, surrounding whitespace trimmed: a trailing newline is fine), or the
 * environment variable RADIXSERVE_API_KEY. A key on the command line is visible to every local
 * user in the process list; the file and the variable are not. Giving both flags, or an empty
 * key from any source, is an error (the router would otherwise run open or with a surprise key).
 */
import { readFileSync } from "node:fs";

export const API_KEY_ENV = "RADIXSERVE_API_KEY";

export interface ApiKeySources {
  apiKey?: string | undefined;
  apiKeyFile?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

/** The key, or undefined for an open router; throws an Error with a one-line message. */
export function resolveApiKey(src: ApiKeySources): string | undefined {
  if (src.apiKey !== undefined && src.apiKeyFile !== undefined)
    throw new Error("give --api-key or --api-key-file, not both");
  if (src.apiKey !== undefined) {
    if (src.apiKey.trim() === "") throw new Error("--api-key is empty");
    return src.apiKey;
  }
  if (src.apiKeyFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(src.apiKeyFile, "utf8");
    } catch (err) {
      throw new Error(`--api-key-file: cannot read ${src.apiKeyFile}: ${(err as Error).message}`);
    }
    const key = text.trim();
    if (key === "") throw new Error(`--api-key-file: ${src.apiKeyFile} is empty`);
    if (/\s/.test(key)) throw new Error(`--api-key-file: ${src.apiKeyFile} holds more than one word`);
    return key;
  }
  const fromEnv = (src.env ?? process.env)[API_KEY_ENV];
  if (fromEnv === undefined) return undefined;
  if (fromEnv.trim() === "") throw new Error(`${API_KEY_ENV} is set but empty`);
  return fromEnv.trim();
}
