import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { DriftAlert } from '../../shared/protocol/index.js';
import { fingerprint, MemoryAlertSink, WebhookSink, ZERO_TIME, type AlertInput, type WebhookLog } from '../../agent/automation/webhook.js';

// WebhookSink against a real HTTP receiver on loopback (port 0): the Alertmanager v4 payload of each kind of alert,
// retries, timeouts and the queue bound.

/** Alertmanager's webhook message, version 4 (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config), strict. */
const Labels = z.record(z.string(), z.string());
const Rfc3339 = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
const AmAlert = z.strictObject({
  status: z.enum(['firing', 'resolved']), labels: Labels, annotations: Labels, startsAt: Rfc3339, endsAt: Rfc3339,
  generatorURL: z.string(), fingerprint: z.string().regex(/^[0-9a-f]{16}$/),
});
const AmMessage = z.strictObject({
  version: z.literal('4'), groupKey: z.string(), truncatedAlerts: z.number().int().min(0), status: z.enum(['firing', 'resolved']),
  receiver: z.string(), groupLabels: Labels, commonLabels: Labels, commonAnnotations: Labels, externalURL: z.string(), alerts: z.array(AmAlert).min(1),
});
type AmMessage = z.infer<typeof AmMessage>;

interface Receiver { url: string; bodies: AmMessage[]; hits: number; headers: IncomingMessage['headers'][]; server: Server }
const servers: Server[] = [];
const sinks: WebhookSink[] = [];

/** A receiver whose answer to the n-th POST (1-based) is answer(n): a status code, or 'hang' (never answers). */
async function receiver(answer: (n: number) => number | 'hang' = () => 200): Promise<Receiver> {
  const r: Receiver = { url: '', bodies: [], hits: 0, headers: [], server: null as unknown as Server };
  r.server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    req.on('data', (d) => { text += d; });
    req.on('end', () => {
      const n = ++r.hits;
      const a = answer(n);
      r.headers.push(req.headers);
      if (a === 'hang') return;
      if (a >= 200 && a < 300) r.bodies.push(AmMessage.parse(JSON.parse(text)));
      res.writeHead(a).end();
    });
  });
  servers.push(r.server);
  await new Promise<void>((ok) => r.server.listen(0, '127.0.0.1', ok));
  r.url = `http://127.0.0.1:${(r.server.address() as AddressInfo).port}/alerts`;
  return r;
}

function logs(): WebhookLog & { warns: { obj: object; msg: string }[] } {
  const warns: { obj: object; msg: string }[] = [];
  return { warns, warn: (obj, msg) => warns.push({ obj, msg }), debug: () => undefined };
}
function sink(o: Partial<ConstructorParameters<typeof WebhookSink>[0]> & { url: string }): WebhookSink {
  const s = new WebhookSink({ log: logs(), backoffMs: 20, node: 'h100-01', ...o });
  sinks.push(s);
  return s;
}

afterEach(async () => {
  for (const s of sinks.splice(0)) await s.dispose();
  for (const s of servers.splice(0)) { s.closeAllConnections(); await new Promise((ok) => s.close(ok)); }
});

const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);
const drift = (resolved: number | null): DriftAlert => ({
  id: 7, name: 'credit', version: '3', raised_at: T0, resolved_at: resolved, features: ['income', 'debt_ratio'],
  prediction_drift: true, predictions: ['output'], drift_share: 0.5, consecutive: 2, message: 'income and debt_ratio drifted (PSI 0.41, 0.38)',
});

describe('WebhookSink: the Alertmanager v4 payload', () => {
  it('a drift alert fires with endsAt zero, resolves with its end, and keeps its fingerprint', async () => {
    const r = await receiver();
    const s = sink({ url: r.url, externalURL: 'http://agent:7070' });
    await s.send([{ kind: 'drift', event: 'raised', alert: drift(null) }]);
    await s.idle();
    await s.send([{ kind: 'drift', event: 'resolved', alert: drift(T0 + 60_000) }]);
    await s.idle();
    expect(r.bodies).toHaveLength(2);
    const [fire, res] = r.bodies;
    expect(fire).toMatchObject({ version: '4', status: 'firing', receiver: 'fleetml', truncatedAlerts: 0, externalURL: 'http://agent:7070', groupLabels: { alertname: 'FleetmlDrift', model: 'credit' } });
    expect(fire.groupKey).toBe('{}:{alertname="FleetmlDrift", model="credit"}');
    const a = fire.alerts[0];
    expect(a.labels).toEqual({ alertname: 'FleetmlDrift', model: 'credit', version: '3', node: 'h100-01', severity: 'warning' });
    expect(a).toMatchObject({ status: 'firing', startsAt: '2026-12-03T12:00:00.000Z', endsAt: ZERO_TIME, generatorURL: 'http://agent:7070/v2/models/credit/versions/3' });
    expect(a.annotations.summary).toMatch(/income, debt_ratio/);
    expect(a.annotations.description).toBe('income and debt_ratio drifted (PSI 0.41, 0.38)');
    expect(fire.commonLabels).toEqual(a.labels);
    const b = res.alerts[0];
    expect(res.status).toBe('resolved');
    expect(b).toMatchObject({ status: 'resolved', startsAt: '2026-12-03T12:00:00.000Z', endsAt: '2026-12-03T12:01:00.000Z' });
    expect(b.fingerprint).toBe(a.fingerprint);
    expect(b.fingerprint).toBe(fingerprint(a.labels));
    expect(r.headers[0]['content-type']).toBe('application/json');
  });

  it('a performance drop fires (critical, metric/value/bound) and names the automation when it has one', async () => {
    const r = await receiver();
    const s = sink({ url: r.url, headers: { authorization: 'Bearer xyz' } });
    await s.send([{ kind: 'performance', model: 'credit', version: '3', metric: 'accuracy', value: 0.71234567, bound: 0.85, since: T0, automation: 'retrain-credit' }]);
    await s.idle();
    const a = r.bodies[0].alerts[0];
    expect(a.labels).toEqual({ alertname: 'FleetmlPerformanceDrop', model: 'credit', version: '3', node: 'h100-01', severity: 'critical', automation: 'retrain-credit' });
    expect(a.annotations).toMatchObject({ metric: 'accuracy', value: '0.712346', bound: '0.85', direction: 'below' });
    expect(a.annotations.summary).toBe('credit v3: accuracy 0.712346 is below its bound 0.85');
    expect(a).toMatchObject({ status: 'firing', endsAt: ZERO_TIME, generatorURL: '' });
    expect(r.headers[0].authorization).toBe('Bearer xyz');
  });

  it('automation runs: failed, rolled_back and suppressed fire; succeeded resolves the same alert', async () => {
    const r = await receiver();
    const s = sink({ url: r.url });
    const run = (id: string, state: 'succeeded' | 'failed' | 'rolled_back' | 'suppressed', reason: string, new_version?: string): AlertInput => ({
      kind: 'automation_run', run_id: id, automation: 'retrain-credit', model: 'credit', version: '3', state, reason, started_at: T0, ended_at: T0 + 90_000, new_version,
    });
    await s.send([run('r1', 'rolled_back', 'gate: accuracy 0.41 < 0.85 on the holdout')]);
    await s.idle();
    await s.send([run('r2', 'succeeded', 'promoted v4', '4')]);
    await s.idle();
    await s.send([run('r3', 'failed', 'job exited 2'), run('r4', 'suppressed', 'cooldown: last run 5 min ago')]);
    await s.idle();
    const [rb, ok, two] = r.bodies;
    expect(rb.alerts[0]).toMatchObject({ status: 'firing', endsAt: ZERO_TIME, annotations: { run_id: 'r1', state: 'rolled_back', description: 'gate: accuracy 0.41 < 0.85 on the holdout' } });
    expect(rb.alerts[0].labels).toEqual({ alertname: 'FleetmlAutomationRun', model: 'credit', version: '3', node: 'h100-01', severity: 'warning', automation: 'retrain-credit' });
    expect(ok.alerts[0]).toMatchObject({ status: 'resolved', startsAt: '2026-12-03T12:00:00.000Z', endsAt: '2026-12-03T12:01:30.000Z', annotations: { run_id: 'r2', state: 'succeeded', new_version: '4' } });
    expect(ok.alerts[0].fingerprint).toBe(rb.alerts[0].fingerprint);
    // one group (same alertname and model): one message of two alerts; common annotations are only the shared ones
    expect(two.alerts.map((a) => a.annotations.state)).toEqual(['failed', 'suppressed']);
    expect(two.commonAnnotations).toEqual({});
    expect(two.commonLabels.automation).toBe('retrain-credit');
  });

  it('groups by alertname and model, and truncates past maxAlerts', async () => {
    const r = await receiver();
    const s = sink({ url: r.url, maxAlerts: 2 });
    const perf = (model: string, version: string): AlertInput => ({ kind: 'performance', model, version, metric: 'f1', value: 0.5, bound: 0.8, since: T0 });
    await s.send([perf('a', '1'), perf('b', '1'), perf('a', '2'), perf('a', '3')]);
    await s.idle();
    expect(r.bodies.map((b) => [b.groupLabels.model, b.alerts.length, b.truncatedAlerts])).toEqual([['a', 2, 1], ['b', 1, 0]]);
    expect(r.bodies[0].commonLabels).not.toHaveProperty('version');
  });
});

describe('WebhookSink: delivery', () => {
  const one: AlertInput[] = [{ kind: 'drift', event: 'raised', alert: drift(null) }];

  it('a receiver answering 500 twice then 200 gets the payload on the third try', async () => {
    const r = await receiver((n) => (n <= 2 ? 500 : 200));
    const s = sink({ url: r.url });
    await s.send(one);
    await s.idle();
    expect(r.hits).toBe(3);
    expect(r.bodies).toHaveLength(1);
    expect(s.stats()).toMatchObject({ sent: 1, failed: 0, retries: 2, dropped: 0, queued: 0 });
  });

  it('gives up after `attempts` tries and logs it, without throwing; a 4xx is not retried', async () => {
    const r = await receiver(() => 503);
    const log = logs();
    const s = sink({ url: r.url, log });
    await expect(s.send(one)).resolves.toBeUndefined();
    await s.idle();
    expect(r.hits).toBe(3);
    expect(s.stats()).toMatchObject({ sent: 0, failed: 1 });
    expect(log.warns.at(-1)).toMatchObject({ msg: 'webhook: gave up on a message', obj: { err: 'HTTP 503', url: new URL(r.url).origin } });

    const r4 = await receiver(() => 400);
    const s4 = sink({ url: r4.url });
    await s4.send(one);
    await s4.idle();
    expect(r4.hits).toBe(1);
    expect(s4.stats().failed).toBe(1);
  });

  it('a receiver that never answers is given up after the timeout, and send never waits for it', async () => {
    const r = await receiver(() => 'hang');
    const log = logs();
    const s = sink({ url: r.url, timeoutMs: 150, attempts: 2, log });
    const t0 = Date.now();
    await s.send(one);
    expect(Date.now() - t0).toBeLessThan(100); // enqueued, not delivered
    let ticks = 0;
    const timer = setInterval(() => ticks++, 20);
    await s.idle();
    clearInterval(timer);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(300); // two tries of 150 ms
    expect(took).toBeLessThan(3000);
    expect(ticks).toBeGreaterThan(5); // the event loop ran meanwhile
    expect(r.hits).toBe(2);
    expect(s.stats()).toMatchObject({ failed: 1, sent: 0 });
    expect(log.warns.at(-1)?.obj).toMatchObject({ err: 'no answer within 150 ms' });
  });

  it('holds at most maxQueue messages behind a dead receiver, dropping the oldest with a counter', async () => {
    const r = await receiver(() => 'hang');
    const log = logs();
    const s = sink({ url: r.url, timeoutMs: 60_000, maxQueue: 3, log });
    for (let i = 0; i < 10; i++) await s.send([{ kind: 'performance', model: `m${i}`, version: '1', metric: 'accuracy', value: 0.1, bound: 0.9, since: T0 }]);
    // the first is in flight, three wait, six were dropped
    expect(s.stats()).toMatchObject({ queued: 3, dropped: 6, inFlight: true });
    expect(log.warns.filter((w) => w.msg.startsWith('webhook queue full'))).toHaveLength(6);
    const t0 = Date.now();
    await s.dispose();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(s.stats()).toMatchObject({ queued: 0, dropped: 9, inFlight: false });
    await s.send(one); // ignored after dispose
    expect(s.stats().queued).toBe(0);
  });

  it('fails fast on a URL that is not http(s) or carries credentials, and on impossible options', () => {
    const log = logs();
    expect(() => new WebhookSink({ url: 'ftp://x/y', log })).toThrow(/http:\/\/ or https:\/\/, not ftp:/);
    expect(() => new WebhookSink({ url: 'not a url', log })).toThrow(/is not a URL/);
    expect(() => new WebhookSink({ url: 'https://u:p@x/y', log })).toThrow(/must not carry credentials/);
    expect(() => new WebhookSink({ url: 'https://x/y', log, attempts: 0 })).toThrow(/attempts must be an integer in \[1, 10\]/);
    expect(() => new WebhookSink({ url: 'https://x/y', log, timeoutMs: 0 })).toThrow(/timeoutMs/);
  });

  it('fingerprints like Prometheus: FNV-1a 64 over sorted labels (the empty set is the FNV offset basis)', () => {
    expect(fingerprint({})).toBe('cbf29ce484222325');
    // vectors published with an independent port of labelSetToFingerprint
    expect(fingerprint({ foo: 'bar' })).toBe('3fff2c2d7595e046');
    expect(fingerprint({ foo: 'bar', baz: 'qux' })).toBe('e4d83091cd448e77');
    expect(fingerprint({ b: '2', a: '1' })).toBe(fingerprint({ a: '1', b: '2' }));
    expect(fingerprint({ a: '1b' })).not.toBe(fingerprint({ a1: 'b' })); // the separator byte keeps names and values apart
  });

  it('MemoryAlertSink (the fake of AlertSink) keeps the newest alerts up to its bound', async () => {
    const m = new MemoryAlertSink(2);
    await m.send([...one, ...one, { kind: 'drift', event: 'resolved', alert: drift(T0 + 1) }]);
    expect(m.alerts.map((a) => (a.kind === 'drift' ? a.event : ''))).toEqual(['raised', 'resolved']);
    expect(m.dropped).toBe(1);
  });
});
