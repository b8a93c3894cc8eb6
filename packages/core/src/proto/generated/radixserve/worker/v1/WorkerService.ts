// Original file: protos/radixserve/worker/v1/worker.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AbortRequest as _radixserve_worker_v1_AbortRequest, AbortRequest__Output as _radixserve_worker_v1_AbortRequest__Output } from '../../../radixserve/worker/v1/AbortRequest.js';
import type { AbortResponse as _radixserve_worker_v1_AbortResponse, AbortResponse__Output as _radixserve_worker_v1_AbortResponse__Output } from '../../../radixserve/worker/v1/AbortResponse.js';
import type { FlushCacheRequest as _radixserve_worker_v1_FlushCacheRequest, FlushCacheRequest__Output as _radixserve_worker_v1_FlushCacheRequest__Output } from '../../../radixserve/worker/v1/FlushCacheRequest.js';
import type { FlushCacheResponse as _radixserve_worker_v1_FlushCacheResponse, FlushCacheResponse__Output as _radixserve_worker_v1_FlushCacheResponse__Output } from '../../../radixserve/worker/v1/FlushCacheResponse.js';
import type { GenerateRequest as _radixserve_worker_v1_GenerateRequest, GenerateRequest__Output as _radixserve_worker_v1_GenerateRequest__Output } from '../../../radixserve/worker/v1/GenerateRequest.js';
import type { GenerateResponse as _radixserve_worker_v1_GenerateResponse, GenerateResponse__Output as _radixserve_worker_v1_GenerateResponse__Output } from '../../../radixserve/worker/v1/GenerateResponse.js';
import type { GetLoadRequest as _radixserve_worker_v1_GetLoadRequest, GetLoadRequest__Output as _radixserve_worker_v1_GetLoadRequest__Output } from '../../../radixserve/worker/v1/GetLoadRequest.js';
import type { GetLoadResponse as _radixserve_worker_v1_GetLoadResponse, GetLoadResponse__Output as _radixserve_worker_v1_GetLoadResponse__Output } from '../../../radixserve/worker/v1/GetLoadResponse.js';
import type { GetModelInfoRequest as _radixserve_worker_v1_GetModelInfoRequest, GetModelInfoRequest__Output as _radixserve_worker_v1_GetModelInfoRequest__Output } from '../../../radixserve/worker/v1/GetModelInfoRequest.js';
import type { GetModelInfoResponse as _radixserve_worker_v1_GetModelInfoResponse, GetModelInfoResponse__Output as _radixserve_worker_v1_GetModelInfoResponse__Output } from '../../../radixserve/worker/v1/GetModelInfoResponse.js';
import type { HealthRequest as _radixserve_worker_v1_HealthRequest, HealthRequest__Output as _radixserve_worker_v1_HealthRequest__Output } from '../../../radixserve/worker/v1/HealthRequest.js';
import type { HealthResponse as _radixserve_worker_v1_HealthResponse, HealthResponse__Output as _radixserve_worker_v1_HealthResponse__Output } from '../../../radixserve/worker/v1/HealthResponse.js';

export interface WorkerServiceClient extends grpc.Client {
  /**
   * Aborts a running or queued request by id. Unknown ids are not an error (found = false).
   */
  Abort(argument: _radixserve_worker_v1_AbortRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_radixserve_worker_v1_AbortResponse__Output>): grpc.ClientUnaryCall;
  Abort(argument: _radixserve_worker_v1_AbortRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_radixserve_worker_v1_AbortResponse__Output>): grpc.ClientUnaryCall;
  Abort(argument: _radixserve_worker_v1_AbortRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_radixserve_worker_v1_AbortResponse__Output>): grpc.ClientUnaryCall;
  Abort(argument: _radixserve_worker_v1_AbortRequest, callback: grpc.requestCallback<_radixserve_worker_v1_AbortResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Aborts a running or queued request by id. Unknown ids are not an error (found = false).
   */
  abort(argument: _radixserve_worker_v1_AbortRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_radixserve_worker_v1_AbortResponse__Output>): grpc.ClientUnaryCall;
  abort(argument: _radixserve_worker_v1_AbortRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_radixserve_worker_v1_AbortResponse__Output>): grpc.ClientUnaryCall;
  abort(argument: _radixserve_worker_v1_AbortRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_radixserve_worker_v1_AbortResponse__Output>): grpc.ClientUnaryCall;
  abort(argument: _radixserve_worker_v1_AbortRequest, callback: grpc.requestCallback<_radixserve_worker_v1_AbortResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Drops every unlocked entry of the prefix cache.
   */
  FlushCache(argument: _radixserve_worker_v1_FlushCacheRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_radixserve_worker_v1_FlushCacheResponse__Output>): grpc.ClientUnaryCall;
  FlushCache(argument: _radixserve_worker_v1_FlushCacheRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_radixserve_worker_v1_FlushCacheResponse__Output>): grpc.ClientUnaryCall;
  FlushCache(argument: _radixserve_worker_v1_FlushCacheRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_radixserve_worker_v1_FlushCacheResponse__Output>): grpc.ClientUnaryCall;
  FlushCache(argument: _radixserve_worker_v1_FlushCacheRequest, callback: grpc.requestCallback<_radixserve_worker_v1_FlushCacheResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Drops every unlocked entry of the prefix cache.
   */
  flushCache(argument: _radixserve_worker_v1_FlushCacheRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_radixserve_worker_v1_FlushCacheResponse__Output>): grpc.ClientUnaryCall;
  flushCache(argument: _radixserve_worker_v1_FlushCacheRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_radixserve_worker_v1_FlushCacheResponse__Output>): grpc.ClientUnaryCall;
  flushCache(argument: _radixserve_worker_v1_FlushCacheRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_radixserve_worker_v1_FlushCacheResponse__Output>): grpc.ClientUnaryCall;
  flushCache(argument: _radixserve_worker_v1_FlushCacheRequest, callback: grpc.requestCallback<_radixserve_worker_v1_FlushCacheResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Runs one request to completion, streaming one event per generated token.
   * The stream ends after the event that carries `finished` (or `error`).
   * Cancelling the call aborts the request and frees its KV blocks.
   */
  Generate(argument: _radixserve_worker_v1_GenerateRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_radixserve_worker_v1_GenerateResponse__Output>;
  Generate(argument: _radixserve_worker_v1_GenerateRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_radixserve_worker_v1_GenerateResponse__Output>;
  /**
   * Runs one request to completion, streaming one event per generated token.
   * The stream ends after the event that carries `finished` (or `error`).
   * Cancelling the call aborts the request and frees its KV blocks.
   */
  generate(argument: _radixserve_worker_v1_GenerateRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_radixserve_worker_v1_GenerateResponse__Output>;
  generate(argument: _radixserve_worker_v1_GenerateRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_radixserve_worker_v1_GenerateResponse__Output>;
  
  GetLoad(argument: _radixserve_worker_v1_GetLoadRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_radixserve_worker_v1_GetLoadResponse__Output>): grpc.ClientUnaryCall;
  GetLoad(argument: _radixserve_worker_v1_GetLoadRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_radixserve_worker_v1_GetLoadResponse__Output>): grpc.ClientUnaryCall;
  GetLoad(argument: _radixserve_worker_v1_GetLoadRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_radixserve_worker_v1_GetLoadResponse__Output>): grpc.ClientUnaryCall;
  GetLoad(argument: _radixserve_worker_v1_GetLoadRequest, callback: grpc.requestCallback<_radixserve_worker_v1_GetLoadResponse__Output>): grpc.ClientUnaryCall;
  getLoad(argument: _radixserve_worker_v1_GetLoadRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_radixserve_worker_v1_GetLoadResponse__Output>): grpc.ClientUnaryCall;
  getLoad(argument: _radixserve_worker_v1_GetLoadRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_radixserve_worker_v1_GetLoadResponse__Output>): grpc.ClientUnaryCall;
  getLoad(argument: _radixserve_worker_v1_GetLoadRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_radixserve_worker_v1_GetLoadResponse__Output>): grpc.ClientUnaryCall;
  getLoad(argument: _radixserve_worker_v1_GetLoadRequest, callback: grpc.requestCallback<_radixserve_worker_v1_GetLoadResponse__Output>): grpc.ClientUnaryCall;
  
  GetModelInfo(argument: _radixserve_worker_v1_GetModelInfoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_radixserve_worker_v1_GetModelInfoResponse__Output>): grpc.ClientUnaryCall;
  GetModelInfo(argument: _radixserve_worker_v1_GetModelInfoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_radixserve_worker_v1_GetModelInfoResponse__Output>): grpc.ClientUnaryCall;
  GetModelInfo(argument: _radixserve_worker_v1_GetModelInfoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_radixserve_worker_v1_GetModelInfoResponse__Output>): grpc.ClientUnaryCall;
  GetModelInfo(argument: _radixserve_worker_v1_GetModelInfoRequest, callback: grpc.requestCallback<_radixserve_worker_v1_GetModelInfoResponse__Output>): grpc.ClientUnaryCall;
  getModelInfo(argument: _radixserve_worker_v1_GetModelInfoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_radixserve_worker_v1_GetModelInfoResponse__Output>): grpc.ClientUnaryCall;
  getModelInfo(argument: _radixserve_worker_v1_GetModelInfoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_radixserve_worker_v1_GetModelInfoResponse__Output>): grpc.ClientUnaryCall;
  getModelInfo(argument: _radixserve_worker_v1_GetModelInfoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_radixserve_worker_v1_GetModelInfoResponse__Output>): grpc.ClientUnaryCall;
  getModelInfo(argument: _radixserve_worker_v1_GetModelInfoRequest, callback: grpc.requestCallback<_radixserve_worker_v1_GetModelInfoResponse__Output>): grpc.ClientUnaryCall;
  
  Health(argument: _radixserve_worker_v1_HealthRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_radixserve_worker_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  Health(argument: _radixserve_worker_v1_HealthRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_radixserve_worker_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  Health(argument: _radixserve_worker_v1_HealthRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_radixserve_worker_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  Health(argument: _radixserve_worker_v1_HealthRequest, callback: grpc.requestCallback<_radixserve_worker_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  health(argument: _radixserve_worker_v1_HealthRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_radixserve_worker_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  health(argument: _radixserve_worker_v1_HealthRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_radixserve_worker_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  health(argument: _radixserve_worker_v1_HealthRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_radixserve_worker_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  health(argument: _radixserve_worker_v1_HealthRequest, callback: grpc.requestCallback<_radixserve_worker_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface WorkerServiceHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Aborts a running or queued request by id. Unknown ids are not an error (found = false).
   */
  Abort: grpc.handleUnaryCall<_radixserve_worker_v1_AbortRequest__Output, _radixserve_worker_v1_AbortResponse>;
  
  /**
   * Drops every unlocked entry of the prefix cache.
   */
  FlushCache: grpc.handleUnaryCall<_radixserve_worker_v1_FlushCacheRequest__Output, _radixserve_worker_v1_FlushCacheResponse>;
  
  /**
   * Runs one request to completion, streaming one event per generated token.
   * The stream ends after the event that carries `finished` (or `error`).
   * Cancelling the call aborts the request and frees its KV blocks.
   */
  Generate: grpc.handleServerStreamingCall<_radixserve_worker_v1_GenerateRequest__Output, _radixserve_worker_v1_GenerateResponse>;
  
  GetLoad: grpc.handleUnaryCall<_radixserve_worker_v1_GetLoadRequest__Output, _radixserve_worker_v1_GetLoadResponse>;
  
  GetModelInfo: grpc.handleUnaryCall<_radixserve_worker_v1_GetModelInfoRequest__Output, _radixserve_worker_v1_GetModelInfoResponse>;
  
  Health: grpc.handleUnaryCall<_radixserve_worker_v1_HealthRequest__Output, _radixserve_worker_v1_HealthResponse>;
  
}

export interface WorkerServiceDefinition extends grpc.ServiceDefinition {
  Abort: MethodDefinition<_radixserve_worker_v1_AbortRequest, _radixserve_worker_v1_AbortResponse, _radixserve_worker_v1_AbortRequest__Output, _radixserve_worker_v1_AbortResponse__Output>
  FlushCache: MethodDefinition<_radixserve_worker_v1_FlushCacheRequest, _radixserve_worker_v1_FlushCacheResponse, _radixserve_worker_v1_FlushCacheRequest__Output, _radixserve_worker_v1_FlushCacheResponse__Output>
  Generate: MethodDefinition<_radixserve_worker_v1_GenerateRequest, _radixserve_worker_v1_GenerateResponse, _radixserve_worker_v1_GenerateRequest__Output, _radixserve_worker_v1_GenerateResponse__Output>
  GetLoad: MethodDefinition<_radixserve_worker_v1_GetLoadRequest, _radixserve_worker_v1_GetLoadResponse, _radixserve_worker_v1_GetLoadRequest__Output, _radixserve_worker_v1_GetLoadResponse__Output>
  GetModelInfo: MethodDefinition<_radixserve_worker_v1_GetModelInfoRequest, _radixserve_worker_v1_GetModelInfoResponse, _radixserve_worker_v1_GetModelInfoRequest__Output, _radixserve_worker_v1_GetModelInfoResponse__Output>
  Health: MethodDefinition<_radixserve_worker_v1_HealthRequest, _radixserve_worker_v1_HealthResponse, _radixserve_worker_v1_HealthRequest__Output, _radixserve_worker_v1_HealthResponse__Output>
}
