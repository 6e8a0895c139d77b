/** The fleetml client library: one agent, a whole fleet, inventory and target resolution. */
export * from './agent-client.js';
export * from './fleet-client.js';
export * from './fleet-types.js';
export * from './inventory.js';
export * from './targets.js';
