export * from './types.js';
export { EventBus, storeResolver, type EventBusOptions } from './bus.js';
export { RingBuffer } from './ring-buffer.js';
export { parseEventFilter, streamEvents, type SseOptions } from './sse.js';
