// Original file: protos/radixserve/worker/v1/worker.proto


/**
 * How the KV bytes may travel; the control messages always use this gRPC stream.
 */
export interface KvTransferOffer {
  /**
   * "grpc" | "shm" | "tcp": what D asks for
   */
  'transport'?: (string);
  /**
   * shm: a file under /dev/shm, sized for the blocks to send
   */
  'shmPath'?: (string);
  /**
   * D's host identity: P uses shm only when its own matches
   */
  'hostId'?: (string);
  /**
   * tcp: host:port of D's data-plane listener
   */
  'tcpAddress'?: (string);
  /**
   * tcp: names this transfer on D's listener (random, per transfer)
   */
  'transferKey'?: (string);
}

/**
 * How the KV bytes may travel; the control messages always use this gRPC stream.
 */
export interface KvTransferOffer__Output {
  /**
   * "grpc" | "shm" | "tcp": what D asks for
   */
  'transport': (string);
  /**
   * shm: a file under /dev/shm, sized for the blocks to send
   */
  'shmPath': (string);
  /**
   * D's host identity: P uses shm only when its own matches
   */
  'hostId': (string);
  /**
   * tcp: host:port of D's data-plane listener
   */
  'tcpAddress': (string);
  /**
   * tcp: names this transfer on D's listener (random, per transfer)
   */
  'transferKey': (string);
}
