// Original file: protos/radixserve/worker/v1/worker.proto

import type { Long } from '@grpc/proto-loader';

export interface KvChunk {
  /**
   * 0, 1, 2, ... in send order
   */
  'seq'?: (number);
  /**
   * index of the first block in the prompt's block list
   */
  'firstBlock'?: (number);
  'numBlocks'?: (number);
  /**
   * grpc: the bytes (engine exportBlocks layout); empty otherwise
   */
  'data'?: (Buffer | Uint8Array | string);
  /**
   * shm/tcp: byte offset in the transfer (the file, the receive region)
   */
  'offset'?: (number | string | Long);
  'byteLength'?: (number);
  /**
   * CRC-32C of the chunk's bytes
   */
  'crc32'?: (number);
  /**
   * the medium that carried the bytes: grpc (inline) | shm | tcp
   */
  'transport'?: (string);
}

export interface KvChunk__Output {
  /**
   * 0, 1, 2, ... in send order
   */
  'seq': (number);
  /**
   * index of the first block in the prompt's block list
   */
  'firstBlock': (number);
  'numBlocks': (number);
  /**
   * grpc: the bytes (engine exportBlocks layout); empty otherwise
   */
  'data': (Buffer);
  /**
   * shm/tcp: byte offset in the transfer (the file, the receive region)
   */
  'offset': (string);
  'byteLength': (number);
  /**
   * CRC-32C of the chunk's bytes
   */
  'crc32': (number);
  /**
   * the medium that carried the bytes: grpc (inline) | shm | tcp
   */
  'transport': (string);
}
