/** The fleetml client library: one agent, a whole fleet, inventory and target resolution, model, reference and test set uploads. */
export * from './agent-client.js';
export * from './fleet-client.js';
export * from './fleet-types.js';
export * from './inventory.js';
export * from './targets.js';
export * from './input-error.js';
export * from './model-push.js';
export * from './drift-upload.js';
export * from './test-set-upload.js';
