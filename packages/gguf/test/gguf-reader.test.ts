// GGUF reader: files written by the test (every metadata type, tensor types, alignment, both
// versions), one clear error per kind of damage. The real SmolLM2 file: test/golden/gguf-tokenizer-golden.test.ts.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  encodeGguf,
  GgufError,
  type GgufMetadataEntry,
  type GgufTensorToWrite,
  ggufInt,
  ggufNumberArray,
  ggufRequireString,
  ggufStringArray,
  readGguf,
} from "../src/index.js";

const META: Record<string, GgufMetadataEntry> = {
  "general.architecture": { type: "string", value: "llama" },
  "t.u8": { type: "uint8", value: 250 },
  "t.i8": { type: "int8", value: -7 },
  "t.u16": { type: "uint16", value: 65000 },
  "t.i16": { type: "int16", value: -30000 },
  "t.u32": { type: "uint32", value: 4_000_000_000 },
  "t.i32": { type: "int32", value: -2_000_000_000 },
  "t.f32": { type: "float32", value: 0.5 },
  "t.bool": { type: "bool", value: true },
  "t.u64": { type: "uint64", value: 2n ** 60n },
  "t.i64": { type: "int64", value: -(2n ** 40n) },
  "t.f64": { type: "float64", value: Math.PI },
  "t.unicode": { type: "string", value: "héllo ✓ 🦙 \u0000 end" },
  "t.strings": { type: "array", elementType: "string", value: ["<s>", "", "Ġthe", "日本"] },
  "t.i32s": { type: "array", elementType: "int32", value: Int32Array.from([1, -2, 3]) },
  "t.f32s": { type: "array", elementType: "float32", value: Float32Array.from([0.25, -1.5]) },
  "t.bools": { type: "array", elementType: "bool", value: [true, false, true] },
  "t.empty": { type: "array", elementType: "uint8", value: new Uint8Array(0) },
};

function tensors(): GgufTensorToWrite[] {
  return [
    { name: "a.weight", shape: [3, 4], type: "F32", data: new Uint8Array(48).fill(1) },
    { name: "b.weight", shape: [2, 64], type: "Q8_0", data: new Uint8Array(4 * 34).fill(2) },
    { name: "c.weight", shape: [1, 256], type: "Q4_K", data: new Uint8Array(144).fill(3) },
    { name: "d.weight", shape: [5], type: "BF16", data: new Uint8Array(10).fill(4) },
  ];
}

const scratch = mkdtempSync(join(tmpdir(), "rs-gguf-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

function writeFile(name: string, bytes: Uint8Array): string {
  const path = join(scratch, name);
  writeFileSync(path, bytes);
  return path;
}

/** Offset of the field after tensor `name`'s name in its tensor info (n_dims). */
function tensorInfoAt(buf: Buffer, name: string): number {
  const at = buf.indexOf(Buffer.from(name, "utf8"));
  assert.ok(at > 0, `tensor info of ${name} found`);
  return at + Buffer.byteLength(name);
}

function expectError(path: string, pattern: RegExp, code = "model_invalid"): void {
  assert.throws(
    () => readGguf(path),
    (e: unknown) => {
      assert.ok(e instanceof GgufError);
      assert.equal(e.code, code);
      assert.ok(e.message.startsWith(`${path}: `), e.message);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

describe("readGguf on files it wrote", () => {
  it("reads every metadata type, tensor infos and data offsets", () => {
    const bytes = encodeGguf(META, tensors());
    const path = writeFile("all.gguf", bytes);
    const f = readGguf(path);
    assert.equal(f.version, 3);
    assert.equal(f.size, bytes.length);
    assert.equal(f.alignment, 32);
    assert.equal(f.dataOffset % 32, 0);
    for (const [key, want] of Object.entries(META)) {
      const got = f.metadata.get(key);
      assert.ok(got, key);
      assert.equal(got.type, want.type, key);
      assert.equal(got.elementType, want.elementType, key);
      assert.deepEqual(got.value, want.value, key);
    }
    assert.equal(ggufRequireString(f, "general.architecture"), "llama");
    assert.equal(ggufInt(f, "t.i64"), -(2 ** 40));
    assert.throws(() => ggufInt(f, "t.u64"), /"t.u64" = 1152921504606846976 is out of range/);
    assert.throws(() => ggufInt(f, "t.f32"), /"t.f32" must be an integer \(found float32\)/);
    assert.deepEqual(ggufNumberArray(f, "t.i32s"), [1, -2, 3]);
    assert.deepEqual(ggufStringArray(f, "t.strings"), ["<s>", "", "Ġthe", "日本"]);
    assert.deepEqual(
      f.tensors.map((t) => [t.name, t.typeName, t.shape, t.ne, t.nbytes, t.elements]),
      [
        ["a.weight", "F32", [3, 4], [4, 3], 48, 12],
        ["b.weight", "Q8_0", [2, 64], [64, 2], 136, 128],
        ["c.weight", "Q4_K", [1, 256], [256, 1], 144, 256],
        ["d.weight", "BF16", [5], [5], 10, 5],
      ],
    );
    for (const [i, t] of f.tensors.entries()) {
      assert.equal((t.offset - f.dataOffset) % 32, 0);
      assert.ok(
        bytes.subarray(t.offset, t.offset + t.nbytes).every((b) => b === i + 1),
        t.name,
      );
    }
  });

  it("honours general.alignment and reads version 2", () => {
    const meta = { ...META, "general.alignment": { type: "uint32", value: 256 } } as const;
    const bytes = encodeGguf(meta, tensors());
    bytes.writeUInt32LE(2, 4);
    const f = readGguf(writeFile("v2.gguf", bytes));
    assert.equal(f.version, 2);
    assert.equal(f.alignment, 256);
    assert.equal(f.dataOffset % 256, 0);
    assert.deepEqual(
      f.tensors.map((t) => (t.offset - f.dataOffset) % 256),
      [0, 0, 0, 0],
    );
    assert.equal(f.tensors[1]!.offset, f.dataOffset + 256);
  });

  it("reads a file with no tensors", () => {
    const f = readGguf(writeFile("empty.gguf", encodeGguf({ "a.b": { type: "bool", value: false } }, [])));
    assert.equal(f.tensors.length, 0);
    assert.equal(f.metadata.get("a.b")?.value, false);
  });
});

describe("readGguf refuses damaged files in one line", () => {
  const good = () => encodeGguf(META, tensors());

  it("a truncated header or data", () => {
    const b = good();
    expectError(writeFile("cut-header.gguf", b.subarray(0, 200)), /truncated: .* needs \d+ bytes at offset/);
    expectError(writeFile("cut-3.gguf", b.subarray(0, 3)), /truncated: the magic needs 4 bytes/);
    const d = readGguf(writeFile("whole.gguf", b)).tensors[3]!;
    expectError(
      writeFile("cut-data.gguf", b.subarray(0, d.offset + d.nbytes - 1)),
      /"d.weight" \(BF16, 10 bytes at offset \d+\) ends past the end of the file/,
    );
  });

  it("a bad magic or an unsupported version", () => {
    const b = good();
    b.write("GGML", 0, "latin1");
    expectError(writeFile("magic.gguf", b), /bad magic "GGML"/);
    for (const [v, hint] of [
      [1, /unsupported GGUF version 1; supported: 2, 3/],
      [4, /unsupported GGUF version 4;/],
      [0x03000000, /version 50331648 \(a big-endian file\)/],
    ] as const) {
      const c = good();
      c.writeUInt32LE(v, 4);
      expectError(writeFile(`v${v}.gguf`, c), hint, "model_unsupported");
    }
  });

  it("an unknown tensor type", () => {
    const b = good();
    b.writeUInt32LE(200, tensorInfoAt(b, "b.weight") + 4 + 2 * 8);
    expectError(
      writeFile("type.gguf", b),
      /tensor "b.weight" has unknown ggml type 200/,
      "model_unsupported",
    );
  });

  it("tensor offsets out of range, misaligned or overlapping", () => {
    const at = (b: Buffer) => tensorInfoAt(b, "c.weight") + 4 + 2 * 8 + 4;
    const far = good();
    far.writeBigUInt64LE(1n << 40n, at(far));
    expectError(writeFile("far.gguf", far), /"c.weight" .* ends past the end of the file/);
    const odd = good();
    odd.writeBigUInt64LE(odd.readBigUInt64LE(at(odd)) + 1n, at(odd));
    expectError(writeFile("odd.gguf", odd), /"c.weight" offset \d+ is not a multiple of the alignment 32/);
    const over = good();
    over.writeBigUInt64LE(over.readBigUInt64LE(at(over)) - 32n, at(over));
    expectError(writeFile("over.gguf", over), /tensors "b.weight" and "c.weight" overlap/);
  });

  it("bad dimensions, rows off the block size, duplicate names and keys, bad alignment", () => {
    const dims = good();
    dims.writeUInt32LE(7, tensorInfoAt(dims, "a.weight"));
    expectError(writeFile("dims.gguf", dims), /"a.weight" has 7 dimensions/);
    const row = encodeGguf(META, [{ name: "q", shape: [1, 32], type: "Q8_0", data: new Uint8Array(34) }]);
    row.writeBigUInt64LE(33n, tensorInfoAt(row, "q") + 4);
    expectError(writeFile("row.gguf", row), /"q" row length 33 is not a multiple of the Q8_0 block \(32\)/);
    const dupT = good();
    dupT.write("a", tensorInfoAt(dupT, "b.weight") - "b.weight".length, "latin1");
    expectError(writeFile("dup-tensor.gguf", dupT), /tensor "a.weight" appears twice/);
    const dupK = good();
    dupK.write("t.u8", dupK.indexOf("t.i8"), "latin1");
    expectError(writeFile("dup-key.gguf", dupK), /metadata key "t.u8" appears twice/);
    const align = encodeGguf({ "general.alignment": { type: "uint32", value: 24 } }, []);
    expectError(
      writeFile("align.gguf", align),
      /general.alignment must be a uint32 power of two \(got uint32 24\)/,
    );
  });

  it("arrays longer than the file and unknown value types", () => {
    const arr = good();
    const key = arr.indexOf("t.strings") + "t.strings".length;
    arr.writeBigUInt64LE(1n << 50n, key + 8);
    expectError(writeFile("array.gguf", arr), /truncated: .*"t.strings" claims \d+ string elements/);
    const vt = good();
    vt.writeUInt32LE(99, vt.indexOf("t.bool") + "t.bool".length);
    expectError(writeFile("vtype.gguf", vt), /"t.bool" has unknown value type 99/);
  });
});
