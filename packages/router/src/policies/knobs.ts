/**
 * A policy's tunable numbers, declared once with their range and default so the registry can
 * validate `--policy name:knob=value,...` and print a clear error naming what is allowed.
 */
export interface KnobSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly default: number;
  /** Only whole numbers (e.g. a seed). */
  readonly integer?: boolean;
  readonly help: string;
}

/** Validated knob values, every declared knob present. */
export type Knobs = Readonly<Record<string, number>>;

/** How a policy file describes itself to the registry. */
export interface PolicyDefinition<P> {
  readonly name: string;
  /** One line for --help. */
  readonly summary: string;
  readonly knobs: readonly KnobSpec[];
  create(knobs: Knobs): P;
}

/** Fills defaults and checks every given knob against its spec; throws an Error that says what is allowed. */
export function resolveKnobs(
  policy: string,
  specs: readonly KnobSpec[],
  given: Readonly<Record<string, number>>,
): Knobs {
  const out: Record<string, number> = {};
  for (const s of specs) out[s.name] = s.default;
  for (const [name, value] of Object.entries(given)) {
    const s = specs.find((k) => k.name === name);
    if (!s) {
      const allowed = specs.length > 0 ? specs.map((k) => k.name).join(", ") : "none";
      throw new Error(`policy ${policy} has no knob '${name}' (knobs: ${allowed})`);
    }
    if (!Number.isFinite(value) || value < s.min || value > s.max || (s.integer && !Number.isInteger(value)))
      throw new Error(
        `policy ${policy}: ${name} must be ${s.integer ? "an integer" : "a number"} in [${s.min}, ${s.max}], got ${value}`,
      );
    out[name] = value;
  }
  return Object.freeze(out);
}
