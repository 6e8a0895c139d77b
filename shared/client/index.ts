/** The fleetml client library: one agent, a whole fleet, inventory and target resolution, model and reference uploads. */
export * from './agent-client.js';
export * from './fleet-client.js';
export * from './fleet-types.js';
export * from './inventory.js';
export * from './targets.js';
export * from './input-error.js';
export * from './model-push.js';
export * from './drift-upload.js';
