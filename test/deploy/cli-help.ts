/**
 * Reads the flags of the built `radixserve` CLI from its --help output (what a pod really runs),
 * and the flags the Helm chart writes from its templates, for the chart-flags test.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";

export interface CliFlag {
  name: string;
  /** True when the flag takes a value (`--port <port>`), false for a switch (`--disable-radix-cache`). */
  takesValue: boolean;
  /** The flag's help text (wrapped lines joined), e.g. to check the choices it lists. */
  help: string;
}

/** `radixserve <command> --help`, parsed: flag name -> flag. Throws when the CLI cannot run. */
export function cliFlags(root: string, command: "router" | "worker" | "make-model"): Map<string, CliFlag> {
  const cli = join(root, "packages", "cli", "dist", "cli.js");
  const r = spawnSync(process.execPath, [cli, command, "--help"], { encoding: "utf8", timeout: 30_000 });
  if (r.status !== 0)
    throw new Error(`${cli} ${command} --help exited ${r.status}: ${r.stderr} (run npm run build first)`);
  // The worker prints its help on stderr (its stdout carries only the machine-read READY line).
  return parseHelp(`${r.stdout}\n${r.stderr}`);
}

/** Commander's help: "  --name <arg>   description" lines, descriptions wrapped onto indented lines. */
export function parseHelp(text: string): Map<string, CliFlag> {
  const flags = new Map<string, CliFlag>();
  let current: CliFlag | null = null;
  for (const line of text.split("\n")) {
    const m = /^ {2}(?:-[a-zA-Z], )?(--[a-z0-9-]+)(?: ([<[][^>\]]+[>\]]))?(?: {2,}(.*))?$/.exec(line);
    if (m) {
      current = { name: m[1]!, takesValue: m[2] !== undefined, help: m[3] ?? "" };
      flags.set(current.name, current);
    } else if (current && /^ {3,}\S/.test(line)) {
      current.help += ` ${line.trim()}`;
    } else {
      current = null;
    }
  }
  return flags;
}

export interface TemplateFlag {
  flag: string;
  /** The enclosing template conditions, innermost last ("!" prefix: the else branch). */
  conditions: string[];
}

/** The literal `- --flag` list items of one `define` block of a Helm template file. */
export function templateFlags(tpl: string, define: string): TemplateFlag[] {
  const start = tpl.indexOf(`define "${define}"`);
  if (start < 0) throw new Error(`no define "${define}"`);
  const next = tpl.indexOf("define ", start + 1);
  const block = tpl.slice(start, next < 0 ? undefined : next);
  const out: TemplateFlag[] = [];
  const stack: string[] = [];
  for (const line of block.split("\n").slice(1)) {
    const action = /^\s*\{\{-?\s*(if|with|range|else|end)\b\s*(.*?)\s*-?\}\}\s*$/.exec(line);
    if (action) {
      const [, word, cond] = action;
      if (word === "end") stack.pop();
      else if (word === "else") stack.push(`!${stack.pop() ?? ""}`);
      else stack.push(cond ?? "");
      continue;
    }
    const flag = /^\s*-\s+"?(--[a-z0-9-]+)"?\s*$/.exec(line);
    if (flag) out.push({ flag: flag[1]!, conditions: [...stack] });
  }
  return out;
}
