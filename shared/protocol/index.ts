/** The fleetml wire protocol: envelope, errors, methods, topics, telemetry types. */
export * from './version.js';
export * from './errors.js';
export * from './envelope.js';
export * from './telemetry.js';
export * from './node.js';
export * from './auth.js';
export * from './subscribe.js';
export * from './methods.js';
export * from './history-keys.js';
export * from './jobs.js';
export * from './names.js';
export * from './models.js';
export * from './binary-frame.js';
export * from './drift.js';
export * from './rollout.js';
export * from './feedback.js';
export * from './automation.js';
