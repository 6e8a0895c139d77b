import { createServer, type Server } from 'node:http';

/** A real HTTP receiver of the agent's Alertmanager-shaped webhook: every POSTed body, parsed, in `hooks`. */
export async function webhookReceiver(): Promise<{ url: string; hooks: any[]; close: () => Promise<void> }> {
  const hooks: any[] = [];
  const server: Server = createServer((req, res) => { let body = ''; req.on('data', (d) => { body += d; }); req.on('end', () => { hooks.push(JSON.parse(body)); res.end(); }); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, hooks, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Wait (up to 5 s) for a received alert matching `pred`; undefined when none came. */
export async function untilAlert(hooks: readonly any[], pred: (alert: any) => boolean): Promise<any> {
  for (let i = 0; i < 50; i++) {
    const a = hooks.flatMap((h) => h.alerts).find(pred);
    if (a) return a;
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}
