// Original file: protos/radixserve/worker/v1/worker.proto


export interface TopLogprob {
  'tokenId'?: (number);
  'logprob'?: (number | string);
}

export interface TopLogprob__Output {
  'tokenId': (number);
  'logprob': (number);
}
