// Original file: protos/radixserve/worker/v1/worker.proto


export interface GetLoadResponse {
  'runningRequests'?: (number);
  'queuedRequests'?: (number);
  /**
   * free + evictable (unlocked cached) blocks
   */
  'kvBlocksFree'?: (number);
  'kvBlocksTotal'?: (number);
  /**
   * blocks held by the prefix cache
   */
  'kvBlocksCached'?: (number);
  /**
   * cached prompt tokens / prompt tokens since start
   */
  'cacheHitRate'?: (number | string);
  'generationTokensPerS'?: (number | string);
  /**
   * prompt tokens admitted per second, recent window (cached ones included)
   */
  'promptTokensPerS'?: (number | string);
  /**
   * KV bytes sent (prefill) or imported (decode) per second, recent window
   */
  'kvTransferBytesPerS'?: (number | string);
}

export interface GetLoadResponse__Output {
  'runningRequests': (number);
  'queuedRequests': (number);
  /**
   * free + evictable (unlocked cached) blocks
   */
  'kvBlocksFree': (number);
  'kvBlocksTotal': (number);
  /**
   * blocks held by the prefix cache
   */
  'kvBlocksCached': (number);
  /**
   * cached prompt tokens / prompt tokens since start
   */
  'cacheHitRate': (number);
  'generationTokensPerS': (number);
  /**
   * prompt tokens admitted per second, recent window (cached ones included)
   */
  'promptTokensPerS': (number);
  /**
   * KV bytes sent (prefill) or imported (decode) per second, recent window
   */
  'kvTransferBytesPerS': (number);
}
