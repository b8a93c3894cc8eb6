/**
 * The KV block layout of exportBlocks/importBlocks across tensor-parallel sizes.
 *
 * A block exported by an engine with tpSize N is its N rank shards concatenated in rank order; rank r
 * holds KV heads r·H/N .. (r+1)·H/N - 1, each shard laid out [layer][k|v][its heads][slot][headDim].
 * With N = 1 that is the plain [layer][k|v][head][slot][headDim]. Every N has the same size, so a
 * buffer does not say which N made it: a receiver with another tpSize must convert it with
 * {@link relayoutKvBlocks} (or refuse), never import it as is.
 */
import { EngineError } from "./errors.js";
import type { ModelInfo } from "./types.js";

const DTYPE_BYTES = { f32: 4, f16: 2, bf16: 2 } as const;

export type KvLayoutInfo = Pick<
  ModelInfo,
  "numLayers" | "numKvHeads" | "headDim" | "blockSize" | "kvCacheDtype"
>;

/** Bytes of one whole block (all ranks), the same for every tpSize. */
export function kvBlockBytes(info: KvLayoutInfo): number {
  return (
    info.numLayers * 2 * info.numKvHeads * info.blockSize * info.headDim * DTYPE_BYTES[info.kvCacheDtype]
  );
}

/**
 * Byte offset, inside one block, of the [slot][headDim] slab of (layer, k|v, global KV head) in the
 * layout of an engine with `tpSize` ranks.
 */
export function kvSlabOffset(
  info: KvLayoutInfo,
  tpSize: number,
  layer: number,
  kv: 0 | 1,
  head: number,
): number {
  const slab = info.blockSize * info.headDim * DTYPE_BYTES[info.kvCacheDtype];
  const perRank = info.numKvHeads / tpSize;
  const rank = Math.floor(head / perRank);
  const shard = info.numLayers * 2 * perRank * slab;
  return rank * shard + ((layer * 2 + kv) * perRank + (head % perRank)) * slab;
}

/**
 * Converts exported blocks from the layout of `fromTp` ranks to that of `toTp` ranks (a new buffer;
 * the same one when the sizes are equal). Both must divide numKvHeads.
 */
export function relayoutKvBlocks(
  data: Uint8Array,
  info: KvLayoutInfo,
  fromTp: number,
  toTp: number,
): Uint8Array {
  for (const tp of [fromTp, toTp])
    if (!Number.isInteger(tp) || tp < 1 || info.numKvHeads % tp !== 0)
      throw new EngineError(
        "input_invalid",
        `relayoutKvBlocks: tp size ${tp} must be a positive divisor of numKvHeads ${info.numKvHeads}`,
      );
  const block = kvBlockBytes(info);
  if (data.byteLength % block !== 0)
    throw new EngineError(
      "input_invalid",
      `relayoutKvBlocks: ${data.byteLength} bytes is not a whole number of ${block}-byte blocks`,
    );
  if (fromTp === toTp) return data;
  const slab = info.blockSize * info.headDim * DTYPE_BYTES[info.kvCacheDtype];
  const out = new Uint8Array(data.byteLength);
  for (let b = 0; b < data.byteLength / block; b++) {
    const base = b * block;
    for (let l = 0; l < info.numLayers; l++)
      for (const kv of [0, 1] as const)
        for (let h = 0; h < info.numKvHeads; h++) {
          const src = base + kvSlabOffset(info, fromTp, l, kv, h);
          out.set(data.subarray(src, src + slab), base + kvSlabOffset(info, toTp, l, kv, h));
        }
  }
  return out;
}
