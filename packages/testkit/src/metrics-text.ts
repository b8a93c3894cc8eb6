/** Reading Prometheus text exposition in tests. */

function* series(text: string, name: string, labels: Record<string, string>): Generator<number> {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const l = m[2] ?? "";
    if (Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`))) yield Number(m[3]);
  }
}

/** The sum of series `name` whose labels include every given pair (0 when none). */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const v of series(text, name, labels)) sum += v;
  return sum;
}

/** The first series `name` whose labels include every given pair, or null. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | null {
  for (const v of series(text, name, labels)) return v;
  return null;
}
