export * from "./kv-event-publisher.js";
export * from "./kv-event-subscriber.js";
export * from "./kv-event-types.js";
export * from "./nats-link.js";
export * from "./subjects.js";
