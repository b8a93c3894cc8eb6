export * from "./grpc-trace.js";
export * from "./otlp-exporter.js";
export * from "./setup.js";
export * from "./trace-context.js";
export * from "./tracer.js";
