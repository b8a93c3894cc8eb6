// Original file: protos/radixserve/worker/v1/worker.proto


export interface GetModelInfoResponse {
  /**
   * served model name (what /v1/models lists)
   */
  'modelId'?: (string);
  'modelPath'?: (string);
  'maxContextLength'?: (number);
  'vocabSize'?: (number);
  'blockSize'?: (number);
  'tpSize'?: (number);
  'disaggMode'?: (string);
  'eosTokenIds'?: (number)[];
  /**
   * root of the block chain hash (16 hex digits); see core/src/cache/block-hash.ts
   */
  'blockHashSeed'?: (string);
}

export interface GetModelInfoResponse__Output {
  /**
   * served model name (what /v1/models lists)
   */
  'modelId': (string);
  'modelPath': (string);
  'maxContextLength': (number);
  'vocabSize': (number);
  'blockSize': (number);
  'tpSize': (number);
  'disaggMode': (string);
  'eosTokenIds': (number)[];
  /**
   * root of the block chain hash (16 hex digits); see core/src/cache/block-hash.ts
   */
  'blockHashSeed': (string);
}
