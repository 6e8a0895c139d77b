import type { JobManager } from '../../jobs/manager.js';
import type { HandlerMap } from '../rpc.js';
import type { CallContext } from '../context.js';
import { roleAllows, type Job } from '../../../shared/protocol/index.js';

/** A job with its environment values hidden (they may hold secrets): what read tokens and the event stream see. */
export function redactEnv(job: Job): Job {
  const env = Object.fromEntries(Object.keys(job.spec.env).map((k) => [k, '<redacted>']));
  return { ...job, spec: { ...job.spec, env } };
}
const forRole = (job: Job, ctx: CallContext) => (roleAllows(ctx.principal.role, 'operate') ? job : redactEnv(job));

/** job.* and node.resources. Mutations need operate and are audited by the dispatcher. */
export function jobHandlers(jobs: JobManager): HandlerMap {
  return {
    'job.submit': async (p, ctx) => ({ job: await jobs.submit(p.spec, ctx.principal.tokenName) }),
    'job.list': (p, ctx) => ({ jobs: jobs.list(p.state, p.label, p.limit).map((j) => forRole(j, ctx)) }),
    'job.get': (p, ctx) => ({ job: forRole(jobs.get(p.id), ctx) }),
    'job.cancel': async (p, ctx) => ({ job: await jobs.cancel(p.id, ctx.principal.tokenName, p.reason) }),
    'job.remove': (p) => ({ removed: jobs.remove(p.id) }),
    'job.logs': (p) => jobs.logs(p.id, p.since, p.tail),
    'node.resources': () => jobs.resources(),
  };
}
