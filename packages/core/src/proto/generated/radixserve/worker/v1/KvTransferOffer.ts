// Original file: protos/radixserve/worker/v1/worker.proto

import type { Long } from '@grpc/proto-loader';

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
  /**
   * shm, direct: D's KV pool itself is a shared memory file and P writes each block straight into
   * D's reserved block (one copy). Set instead of shm_path; P without the means (another host or
   * user, a tp>1 engine) sends inline bytes.
   */
  'shmPoolPath'?: (string);
  /**
   * the pool's exact size: P refuses a file of another size
   */
  'shmPoolBytes'?: (number | string | Long);
  /**
   * D's reserved blocks in transfer order (byte offset / bytes per block)
   */
  'poolBlockIds'?: (number)[];
  /**
   * proc/<D's pid>/fd/<m>: P writes only while slot fence_slot grants it
   */
  'fencePath'?: (string);
  'fenceSlot'?: (number);
  'fenceGeneration'?: (number);
  /**
   * the pool file's name (128 random bits; the fence's is it + ".fence"):
   */
  'shmPoolName'?: (string);
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
  /**
   * shm, direct: D's KV pool itself is a shared memory file and P writes each block straight into
   * D's reserved block (one copy). Set instead of shm_path; P without the means (another host or
   * user, a tp>1 engine) sends inline bytes.
   */
  'shmPoolPath': (string);
  /**
   * the pool's exact size: P refuses a file of another size
   */
  'shmPoolBytes': (string);
  /**
   * D's reserved blocks in transfer order (byte offset / bytes per block)
   */
  'poolBlockIds': (number)[];
  /**
   * proc/<D's pid>/fd/<m>: P writes only while slot fence_slot grants it
   */
  'fencePath': (string);
  'fenceSlot': (number);
  'fenceGeneration': (number);
  /**
   * the pool file's name (128 random bits; the fence's is it + ".fence"):
   */
  'shmPoolName': (string);
}
