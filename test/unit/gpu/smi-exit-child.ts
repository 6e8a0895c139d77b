// Child script for smi-source.test.ts (run with vite-node): start the smi source against the fake
// nvidia-smi given as argv[2], wait for a sample with processes, print it, then process.exit(3) WITHOUT dispose(),
// like the agent's uncaughtException handler. The source's exit hook must kill the children.
import { SmiGpuSource } from '../../../agent/telemetry/gpu/smi-source.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };
const src = new SmiGpuSource({ choice: 'smi', fixtures: [], intervalMs: 100, logger: quiet }, { smiPath: process.argv[2], appsIntervalMs: 200, inventory: false });
await src.start();
// Wait until both streams delivered (GPU sample and its processes), so both children run.
let s = await src.refresh();
for (let i = 0; i < 100 && (s.gpus[0]?.processes.length ?? 0) === 0; i++) {
  await new Promise((r) => setTimeout(r, 50));
  s = await src.refresh();
}
console.log(JSON.stringify({ status: s.status, gpus: s.gpus.length, processes: s.gpus[0]?.processes.length ?? 0 }));
process.exit(3);
