export { FrameCodec, clusterId, deriveKey, FRAME_OVERHEAD, HEADER_BYTES, MAGIC, PROTOCOL_VERSION, TAG_BYTES, type FrameCodecOptions } from './frame.js';
export { ReplayFilter, REPLAY_WINDOW } from './replay.js';
export * from './messages.js';
