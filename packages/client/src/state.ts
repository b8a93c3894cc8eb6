/**
 * The state of one running program: its conversation (chat turns the server renders with the
 * model's chat template) or raw text, and the named results of its `gen` and `select` calls.
 *
 * Calls are queued, as in SGLang: `s.user(q); s.assistant(s.gen("answer"))` needs no `await`;
 * each step runs after the previous one, and `run` waits for the queue (and for every fork).
 * `gen` and `select` return expressions that run where they are placed (`assistant(...)`, or
 * `append(...)` in raw text mode). Every call goes to the server's /generate with the whole
 * prompt so far, so programs that share a prefix (a system prompt, a fork's parent) are served
 * from the server's prefix cache.
 */
import type { ChatMessage, GenerateRequest, MetaInfo, RuntimeEndpoint, SamplingParams } from "./endpoint.js";

export interface GenOptions {
  /** max_new_tokens. Default 128. */
  maxTokens?: number;
  stop?: string | string[];
  /** Default 0 (greedy), as SGLang's frontend. */
  temperature?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  frequencyPenalty?: number;
  presencePenalty?: number;
  ignoreEos?: boolean;
  seed?: number;
  /** A regular expression the output must match (when the server supports structured output). */
  regex?: string;
  /** A JSON Schema (object or string) the output must follow (when the server supports it). */
  jsonSchema?: object | string;
  /** Streams the generation: called with each new piece of text as it arrives. */
  onText?: (delta: string) => void;
}

/** What `select` decided: the choice and every choice's scores. */
export interface SelectScores {
  choices: string[];
  /** Mean logprob of each choice's tokens given the prompt (SGLang's token-length normalization). */
  normalizedLogprobs: number[];
  /** Each choice's token logprobs. */
  tokenLogprobs: number[][];
  /** Index of the chosen one (the highest normalized logprob). */
  index: number;
}

export type Expr =
  | string
  | { kind: "gen"; name: string; opts: GenOptions }
  | { kind: "select"; name: string; choices: string[] };

type Role = ChatMessage["role"];

export class ProgramState {
  private messages: ChatMessage[] = [];
  private open: ChatMessage | null = null;
  /** Raw text mode (no role used): the whole prompt. */
  private raw = "";
  private readonly values = new Map<string, string>();
  private readonly metas = new Map<string, MetaInfo>();
  private readonly selectScores = new Map<string, SelectScores>();
  private chain: Promise<void>;
  private readonly children: ProgramState[] = [];
  private failure: unknown = null;
  private markFirstCall: () => void = () => {};
  /** Settles once this state's first server call has answered (its prompt is then in the server's cache). */
  readonly firstCall: Promise<void> = new Promise((r) => {
    this.markFirstCall = r;
  });

  constructor(
    readonly endpoint: RuntimeEndpoint,
    after: Promise<void> = Promise.resolve(),
  ) {
    this.chain = after;
  }

  // ---- building the prompt (queued) ----

  /** A turn; a list of parts runs in order inside it (`["The answer is", s.select(...)]`). */
  system(content: Expr | Expr[]): void {
    this.turn("system", content);
  }
  user(content: Expr | Expr[]): void {
    this.turn("user", content);
  }
  assistant(content: Expr | Expr[]): void {
    this.turn("assistant", content);
  }

  /** Raw text mode: appends text or the result of a gen/select to the prompt. */
  append(content: Expr): void {
    this.enqueue(async () => {
      if (this.messages.length > 0 || this.open)
        throw new Error("append() is for raw text programs; use roles");
      this.raw += await this.evaluate(content);
    });
  }

  /** A generation, placed by assistant(...) or append(...); its text is stored under `name`. */
  gen(name: string, opts: GenOptions = {}): Expr {
    return { kind: "gen", name, opts };
  }

  /** A choice among `choices` by the model's likelihood of each; stored under `name` (scores too). */
  select(name: string, choices: string[]): Expr {
    if (choices.length === 0) throw new Error(`select("${name}") needs at least one choice`);
    return { kind: "select", name, choices };
  }

  /** `n` branches that continue from this state's prompt (as it stands at this point of the queue). */
  fork(n: number): ProgramState[] {
    const forks: ProgramState[] = [];
    for (let i = 0; i < n; i++) {
      const child: ProgramState = new ProgramState(
        this.endpoint,
        this.chain.then((): void => child.copyFrom(this)),
      );
      forks.push(child);
      this.children.push(child);
    }
    return forks;
  }

  /** Waits for everything queued so far (and every fork) and rethrows the first failure. */
  async sync(): Promise<void> {
    await this.chain;
    this.markFirstCall();
    await Promise.all(this.children.map((c) => c.sync()));
    if (this.failure) throw this.failure;
  }

  // ---- results ----

  /** The text a gen or select stored under `name` (after run / sync). */
  get(name: string): string | undefined {
    return this.values.get(name);
  }

  /** The server's meta_info of the gen under `name`: prompt, cached and completion tokens, finish reason. */
  meta(name: string): MetaInfo | undefined {
    return this.metas.get(name);
  }

  /** The scores of the select under `name`. */
  scores(name: string): SelectScores | undefined {
    return this.selectScores.get(name);
  }

  /** The conversation so far (closed turns and the open one). */
  get conversation(): ChatMessage[] {
    return this.open ? [...this.messages, { ...this.open }] : [...this.messages];
  }

  /** The raw text so far (raw text mode). */
  get text(): string {
    return this.raw;
  }

  // ---- internals ----

  private copyFrom(parent: ProgramState): void {
    this.messages = parent.messages.map((m) => ({ ...m }));
    this.open = parent.open ? { ...parent.open } : null;
    this.raw = parent.raw;
    for (const [k, v] of parent.values) this.values.set(k, v);
  }

  private enqueue(step: () => Promise<void>): void {
    this.chain = this.chain.then(async () => {
      if (this.failure) return;
      try {
        await step();
      } catch (err) {
        this.failure = err;
        this.markFirstCall();
      }
    });
  }

  private turn(role: Role, content: Expr | Expr[]): void {
    this.enqueue(async () => {
      const open: ChatMessage = { role, content: "" };
      this.open = open;
      for (const part of Array.isArray(content) ? content : [content]) {
        const text = await this.evaluate(part);
        open.content += text;
      }
      this.messages.push(open);
      this.open = null;
    });
  }

  /** The prompt as /generate takes it: the conversation (the open turn's text continued) or raw text. */
  private prompt(extra = ""): { messages?: ChatMessage[]; text?: string } {
    if (this.messages.length === 0 && !this.open) return { text: this.raw + extra };
    if (this.open && this.open.role !== "assistant")
      throw new Error(
        `gen/select inside a ${this.open.role} turn is not supported: place them in assistant(...)`,
      );
    const tail = (this.open?.content ?? "") + extra;
    return tail === "" ? { messages: this.messages } : { messages: this.messages, text: tail };
  }

  private async evaluate(e: Expr): Promise<string> {
    if (typeof e === "string") return e;
    const out =
      e.kind === "gen" ? await this.runGen(e.name, e.opts) : await this.runSelect(e.name, e.choices);
    this.values.set(e.name, out);
    return out;
  }

  private async runGen(name: string, o: GenOptions): Promise<string> {
    const sp: SamplingParams = { max_new_tokens: o.maxTokens ?? 128, temperature: o.temperature ?? 0 };
    if (o.stop !== undefined) sp.stop = o.stop;
    if (o.topP !== undefined) sp.top_p = o.topP;
    if (o.topK !== undefined) sp.top_k = o.topK;
    if (o.minP !== undefined) sp.min_p = o.minP;
    if (o.frequencyPenalty !== undefined) sp.frequency_penalty = o.frequencyPenalty;
    if (o.presencePenalty !== undefined) sp.presence_penalty = o.presencePenalty;
    if (o.ignoreEos !== undefined) sp.ignore_eos = o.ignoreEos;
    if (o.seed !== undefined) sp.sampling_seed = o.seed;
    if (o.regex !== undefined) sp.regex = o.regex;
    if (o.jsonSchema !== undefined)
      sp.json_schema = typeof o.jsonSchema === "string" ? o.jsonSchema : JSON.stringify(o.jsonSchema);
    const req: GenerateRequest = { ...this.prompt(), sampling_params: sp };
    if (!o.onText) {
      const r = await this.endpoint.generate(req);
      this.markFirstCall();
      this.metas.set(name, r.meta_info);
      return r.text;
    }
    let text = "";
    for await (const r of this.endpoint.generateStream(req)) {
      if (r.text.length > text.length) o.onText(r.text.slice(text.length));
      text = r.text;
      if (r.meta_info.finish_reason) this.metas.set(name, r.meta_info);
    }
    this.markFirstCall();
    return text;
  }

  private async runSelect(name: string, choices: string[]): Promise<string> {
    // The prompt's length in tokens: each choice's logprobs are read from there on.
    const head = await this.endpoint.generate({ ...this.prompt(), sampling_params: { max_new_tokens: 0 } });
    const start = head.meta_info.prompt_tokens;
    this.markFirstCall();
    const prompts = choices.map((c) => this.prompt(c));
    const results = await this.endpoint.generateBatch({
      ...(prompts[0]!.messages
        ? { messages: prompts.map((p) => p.messages!), text: prompts.map((p) => p.text ?? "") }
        : { text: prompts.map((p) => p.text!) }),
      sampling_params: { max_new_tokens: 0 },
      return_logprob: true,
      logprob_start_len: start,
    });
    const tokenLogprobs = results.map((r) =>
      (r.meta_info.input_token_logprobs ?? []).flatMap(([lp]) => (lp === null ? [] : [lp])),
    );
    const normalizedLogprobs = tokenLogprobs.map((lps) =>
      lps.length === 0 ? Number.NEGATIVE_INFINITY : lps.reduce((a, b) => a + b, 0) / lps.length,
    );
    let index = 0;
    for (let i = 1; i < choices.length; i++)
      if (normalizedLogprobs[i]! > normalizedLogprobs[index]!) index = i;
    this.selectScores.set(name, { choices, normalizedLogprobs, tokenLogprobs, index });
    this.metas.set(name, head.meta_info);
    return choices[index]!;
  }
}
