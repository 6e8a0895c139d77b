import type { AgentClient } from '../../shared/client/agent-client.js';
import { TERMINAL_STATES, type Job } from '../../shared/protocol/index.js';

/** Poll job.get until pred holds (or fail with the job's state and reason after ms). */
export async function untilJob(c: AgentClient, id: string, pred: (j: Job) => boolean, ms = 20_000): Promise<Job> {
  const end = Date.now() + ms;
  for (;;) {
    const { job } = await c.call('job.get', { id });
    if (pred(job)) return job;
    if (Date.now() > end) throw new Error(`job ${id} still ${job.state} (${job.reason})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** True once a job can no longer change. */
export const isTerminal = (j: Job) => TERMINAL_STATES.includes(j.state);
