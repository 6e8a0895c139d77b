import type { JobManager } from '../../jobs/manager.js';
import type { HandlerMap } from '../rpc.js';

/** job.* and node.resources. Mutations need operate and are audited by the dispatcher. */
export function jobHandlers(jobs: JobManager): HandlerMap {
  return {
    'job.submit': async (p, ctx) => ({ job: await jobs.submit(p.spec, ctx.principal.tokenName) }),
    'job.list': (p) => ({ jobs: jobs.list(p.state, p.label, p.limit) }),
    'job.get': (p) => ({ job: jobs.get(p.id) }),
    'job.cancel': async (p, ctx) => ({ job: await jobs.cancel(p.id, ctx.principal.tokenName, p.reason) }),
    'job.remove': (p) => ({ removed: jobs.remove(p.id) }),
    'job.logs': (p) => jobs.logs(p.id, p.since, p.tail),
    'node.resources': () => jobs.resources(),
  };
}
