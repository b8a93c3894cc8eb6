/**
 * One vocabulary for `--disagg-mode`, shared by `radixserve start` (what to launch) and
 * `radixserve worker` (what one worker runs):
 * - `unified`: no disaggregation; one worker prefills and decodes (both commands);
 * - `pd`: prefill/decode disaggregation; `start` launches prefill and decode workers (its default);
 * - `prefill` / `decode`: the role of one disaggregated worker (`worker` only).
 * SGLang's spelling `null` (no disaggregation) is accepted as `unified` on both commands.
 * A value the command cannot run is refused with a message naming the command that can.
 */
export type DisaggMode = "unified" | "prefill" | "decode";
export type LaunchDisaggMode = "unified" | "pd";

const ALIASES: Record<string, string> = { null: "unified" };

function normalize(value: string): string {
  const v = value.trim().toLowerCase();
  return ALIASES[v] ?? v;
}

/** `radixserve worker --disagg-mode`: unified | prefill | decode. Throws with a one-line reason. */
export function parseWorkerDisaggMode(value: string): DisaggMode {
  const v = normalize(value);
  if (v === "unified" || v === "prefill" || v === "decode") return v;
  if (v === "pd")
    throw new Error(
      "--disagg-mode pd launches prefill and decode workers and is for `radixserve start`; a worker runs one role: prefill or decode (or unified)",
    );
  throw new Error(`--disagg-mode must be unified, prefill or decode, got '${value}'`);
}

/** `radixserve start --disagg-mode`: pd | unified. Throws with a one-line reason. */
export function parseLaunchDisaggMode(value: string): LaunchDisaggMode {
  const v = normalize(value);
  if (v === "unified" || v === "pd") return v;
  if (v === "prefill" || v === "decode")
    throw new Error(
      `--disagg-mode ${v} is the role of one worker (\`radixserve worker\`); \`radixserve start\` takes pd (prefill and decode workers, sized by --num-prefill/--num-decode) or unified`,
    );
  throw new Error(`--disagg-mode must be pd or unified, got '${value}'`);
}
