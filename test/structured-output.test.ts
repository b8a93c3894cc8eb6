/**
 * Structured output end to end on the default model (SmolLM2-135M-Instruct), in unified and in
 * prefill/decode mode: every answer of a corpus of JSON Schemas (temperature 1, n = 4) validates
 * against its schema with ajv; regex answers match in full; EBNF (Lark) answers parse; a streamed
 * constrained answer reassembles to valid JSON; an invalid grammar is a 400 naming its field.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import OpenAI from "openai";
import { ROOT } from "./harness/cluster.js";
import { type Launched, launch } from "./harness/launcher.js";

const MODEL = "SmolLM2-135M-Instruct";
const CORPUS = JSON.parse(readFileSync(join(ROOT, "test", "fixtures", "json-schemas.json"), "utf8")) as {
  name: string;
  schema: Record<string, unknown>;
}[];

const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);

async function inParallel<T>(items: readonly T[], width: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function checkCorpus(client: OpenAI): Promise<void> {
  const failures: string[] = [];
  await inParallel(CORPUS, 8, async ({ name, schema }) => {
    const validate = ajv.compile(schema);
    const res = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: `Give me a ${name} as JSON.` }],
      response_format: {
        type: "json_schema",
        json_schema: { name: name.replace(/[^a-z0-9_-]/gi, "_"), schema, strict: true },
      },
      temperature: 1,
      n: 4,
      max_tokens: 400,
    });
    assert.equal(res.choices.length, 4);
    for (const c of res.choices) {
      const text = c.message.content ?? "";
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        failures.push(`${name}: not JSON (finish ${c.finish_reason}): ${text}`);
        continue;
      }
      if (!validate(value)) failures.push(`${name}: ${ajv.errorsText(validate.errors)}: ${text}`);
      if (c.finish_reason !== "stop") failures.push(`${name}: finish_reason ${c.finish_reason}`);
    }
  });
  assert.deepEqual(failures, []);
}

async function checkGrammars(client: OpenAI, base: string): Promise<void> {
  const post = (body: Record<string, unknown>) =>
    fetch(`${base}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: MODEL,
        messages: [{ role: "user", content: "Answer." }],
        temperature: 1,
        n: 4,
        max_tokens: 64,
        ...body,
      }),
    });
  const regex = "(yes|no), because [a-z]{1,10}( [a-z]{1,10}){0,4}\\.";
  const r = await post({ regex });
  const rb = (await r.json()) as { choices: { message: { content: string } }[] };
  assert.equal(r.status, 200, JSON.stringify(rb));
  for (const c of rb.choices) assert.match(c.message.content, new RegExp(`^${regex}$`));

  const ebnf = 'start: item ("," " " item){0,3}\nitem: "apple" | "pear" | NUM " plums"\nNUM: /[1-9]/';
  const e = await post({ ebnf });
  const eb = (await e.json()) as { choices: { message: { content: string } }[] };
  assert.equal(e.status, 200, JSON.stringify(eb));
  for (const c of eb.choices)
    assert.match(c.message.content, /^(apple|pear|[1-9] plums)(, (apple|pear|[1-9] plums)){0,3}$/);

  const unsupported = await post({
    response_format: {
      type: "json_schema",
      json_schema: { name: "u", schema: { type: "array", items: { type: "string" }, uniqueItems: true } },
    },
  });
  const unsupportedBody = (await unsupported.json()) as { error: { message: string } };
  assert.equal(unsupported.status, 400);
  assert.match(unsupportedBody.error.message, /uniqueItems/);

  const bad = await post({ regex: "(unclosed" });
  const badBody = (await bad.json()) as { error: { message: string } };
  assert.equal(bad.status, 400);
  assert.match(badBody.error.message, /^regex: /);

  // Streamed, one choice: the deltas reassemble to JSON valid against the schema.
  const schema = CORPUS[0]!.schema;
  const stream = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: "user", content: "A person as JSON." }],
    response_format: { type: "json_schema", json_schema: { name: "p", schema } },
    temperature: 1,
    max_tokens: 200,
    stream: true,
  });
  let text = "";
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
  assert.ok(ajv.validate(schema, JSON.parse(text)), text);

  // json_object: any JSON object. Greedy, so the answer is one fixed object that ends (sampled at
  // temperature 1 an open-ended object can run past max_tokens, and a cut answer is not JSON).
  const obj = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: "user", content: 'Reply with a JSON object whose only key is "ok", set to true.' }],
    response_format: { type: "json_object" },
    temperature: 0,
    max_tokens: 300,
  });
  assert.equal(obj.choices[0]!.finish_reason, "stop", obj.choices[0]!.message.content ?? "");
  const parsed = JSON.parse(obj.choices[0]!.message.content ?? "") as unknown;
  assert.equal(typeof parsed, "object");
  assert.ok(parsed !== null && !Array.isArray(parsed));
}

describe("structured output on the default model", { concurrency: 1 }, () => {
  for (const mode of [["--disagg-mode", "unified"], []]) {
    const name = mode.length ? "unified" : "prefill/decode";
    it(`${name}: ${CORPUS.length} JSON Schemas x 4 answers validate; regex, EBNF, streaming, json_object`, async () => {
      const l: Launched = await launch(mode);
      try {
        const client = new OpenAI({
          baseURL: l.ready.baseUrl,
          apiKey: "none",
          maxRetries: 0,
          timeout: 600_000,
        });
        await checkCorpus(client);
        await checkGrammars(client, l.ready.baseUrl);
      } finally {
        l.proc.kill("SIGTERM");
        await l.exit;
      }
    });
  }
});
