// The `n` submit form as pure data: fields, a reducer for editing, and the conversion to a JobSpec
// (checked with the protocol's own schema, so the form and the agent agree on what is valid).
import type { FleetNode } from '../shared/client/fleet-types.js';
import { JobSpec, type DriverName, type JobSpecInput, type NodeResources } from '../shared/protocol/jobs.js';
import { resourcesOf } from './node-resources.js';

/** Form fields, in Tab order. */
export const FORM_FIELDS = ['node', 'driver', 'image', 'command', 'gpus', 'priority', 'name'] as const;
/** One form field. */
export type FormField = (typeof FORM_FIELDS)[number];
/** Drivers offered for a node that has not reported its own (node.resources unknown); left/right or space cycles. */
export const FORM_DRIVERS: readonly DriverName[] = ['process', 'docker', 'fake', 'slurm'];

/** What the form offers on one node: its drivers, the one preselected, and a line about its Slurm cluster. */
export interface NodeOffer {
  drivers: DriverName[];
  default: DriverName;
  /** "Slurm cluster c1: partition debug, 2/2 GPUs free", or null when the node has no Slurm behind it. */
  slurm: string | null;
}

/**
 * The drivers of a node as node.resources reports them: the available ones in FORM_DRIVERS order (every reported one
 * when none is available, so the agent's refusal says why), preselecting the node's default_driver, else process, else
 * the first. Unknown resources (older agent, not polled yet): FORM_DRIVERS, process.
 */
export function nodeOffer(res: NodeResources | null): NodeOffer {
  if (!res || res.drivers.length === 0) return { drivers: [...FORM_DRIVERS], default: 'process', slurm: null };
  // In FORM_DRIVERS order, whatever order the node's config lists them in: → means the same on every node.
  const rank = (d: DriverName) => (FORM_DRIVERS.indexOf(d) + FORM_DRIVERS.length + 1) % (FORM_DRIVERS.length + 1);
  const avail = res.drivers.filter((d) => d.available).map((d) => d.name);
  const drivers = (avail.length ? avail : res.drivers.map((d) => d.name)).sort((a, b) => rank(a) - rank(b));
  const def = res.default_driver && drivers.includes(res.default_driver) ? res.default_driver : drivers.includes('process') ? 'process' : drivers[0];
  return { drivers, default: def, slurm: res.slurm ? slurmOfferLine(res.slurm) : null };
}

/** The Slurm line of the form: the partition jobs go to and its free GPUs ("partition debug, 1/2 GPUs free"). */
function slurmOfferLine(c: NonNullable<NodeResources['slurm']>): string {
  const p = c.partitions.find((x) => x.name === c.default_partition) ?? c.partitions.find((x) => x.default) ?? c.partitions[0];
  const where = p ? `partition ${p.name}, ${p.gpus_free}/${p.gpus_total} GPUs free` : 'no partition known';
  return `Slurm${c.cluster ? ` cluster ${c.cluster}` : ''}: ${where}${c.error ? ` (${c.error})` : ''}`;
}

/** State of the submit form. */
export interface JobForm {
  values: Record<FormField, string>;
  /** Index into FORM_FIELDS. */
  focus: number;
  /** Node names the node field cycles through: the nodes that are up (all of them when none is). */
  nodes: string[];
  /** What each of those nodes offers (drivers, default driver, Slurm), as known when the form opened. */
  offers: Record<string, NodeOffer>;
  /** Validation or agent error shown under the fields. */
  error: string | null;
  /** A submit is in flight. */
  busy: boolean;
}

/** Fields chosen from a list (cycled, not typed). */
export function isChoice(f: FormField): boolean {
  return f === 'node' || f === 'driver';
}

/** A fresh form: node defaults to the first node that is up (else the first node), driver to that node's default. */
export function newJobForm(nodes: readonly FleetNode[]): JobForm {
  const up = nodes.filter((n) => n.conn === 'up');
  const list = up.length ? up : nodes;
  const names = list.map((n) => n.name);
  const offers = Object.fromEntries(list.map((n) => [n.name, nodeOffer(resourcesOf(n))]));
  const node = names[0] ?? '';
  const driver = offers[node]?.default ?? 'process';
  return { values: { node, driver, image: '', command: '', gpus: '', priority: '', name: '' }, focus: FORM_FIELDS.indexOf('command'), nodes: names, offers, error: null, busy: false };
}

/** The offer of the form's node (FORM_DRIVERS when it reported none). */
export function offerOf(f: JobForm, node = f.values.node): NodeOffer {
  return f.offers?.[node] ?? nodeOffer(null);
}

/** Edits of the form. */
export type FormAction =
  | { type: 'focus'; delta: number }
  | { type: 'input'; text: string }
  | { type: 'erase' }
  | { type: 'cycle'; delta: number }
  | { type: 'error'; text: string | null }
  | { type: 'busy'; value: boolean };

/** The focused field. */
export function focusedField(f: JobForm): FormField {
  return FORM_FIELDS[f.focus];
}

function cycle<T>(list: readonly T[], cur: T, delta: number): T {
  if (list.length === 0) return cur;
  const i = list.indexOf(cur);
  return list[(((i < 0 ? 0 : i) + delta) % list.length + list.length) % list.length];
}

/** Apply one edit (pure). Typing into a choice field does nothing; cycling a text field does nothing. */
export function reduceForm(f: JobForm, a: FormAction): JobForm {
  const field = focusedField(f);
  const set = (v: string): JobForm => ({ ...f, values: { ...f.values, [field]: v }, error: null });
  switch (a.type) {
    case 'focus':
      return { ...f, focus: (((f.focus + a.delta) % FORM_FIELDS.length) + FORM_FIELDS.length) % FORM_FIELDS.length };
    case 'input':
      return isChoice(field) ? f : set(f.values[field] + a.text);
    case 'erase':
      return isChoice(field) ? f : set(f.values[field].slice(0, -1));
    case 'cycle':
      if (field === 'node') {
        // The driver follows the node unless the user picked one the new node offers too.
        const node = cycle(f.nodes, f.values.node, a.delta);
        const was = offerOf(f);
        const next = offerOf(f, node);
        const keep = f.values.driver !== was.default && next.drivers.includes(f.values.driver as DriverName);
        return { ...f, values: { ...f.values, node, driver: keep ? f.values.driver : next.default }, error: null };
      }
      if (field === 'driver') return set(cycle(offerOf(f).drivers, f.values.driver as DriverName, a.delta));
      return f;
    case 'error':
      return { ...f, error: a.text, busy: false };
    case 'busy':
      return { ...f, busy: a.value, error: a.value ? null : f.error };
  }
}

/**
 * Split a command line into arguments, shell-like but simple: whitespace separates; '…' is literal;
 * "…" allows \" and \\; a backslash outside quotes escapes the next character. No variables or globs.
 */
export function splitCommand(line: string): string[] | { error: string } {
  const args: string[] = [];
  let cur = '';
  let has = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote === "'") {
      if (c === "'") quote = null;
      else cur += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) cur += line[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      has = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has) args.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (quote) return { error: `unterminated ${quote} quote in the command` };
  if (has) args.push(cur);
  return args;
}

/** The result of checking the form. */
export type FormResult = { ok: true; node: string; spec: JobSpecInput } | { ok: false; error: string };

function int(v: string, what: string): number | string {
  const t = v.trim();
  if (t === '') return 0;
  return /^-?\d+$/.test(t) ? Number(t) : `${what} must be a whole number (got "${v}")`;
}

/** Turn the form into a node and a spec, or the first problem as a message that says what to fix. */
export function formToSpec(f: JobForm): FormResult {
  const v = f.values;
  if (!v.node) return { ok: false, error: 'no node to run on: add one with `fleetml cluster add`' };
  const command = splitCommand(v.command);
  if (!Array.isArray(command)) return { ok: false, error: command.error };
  if (command.length === 0) return { ok: false, error: 'command is empty: type the program and its arguments' };
  const gpus = int(v.gpus, 'gpus');
  if (typeof gpus === 'string') return { ok: false, error: gpus };
  const priority = int(v.priority, 'priority');
  if (typeof priority === 'string') return { ok: false, error: priority };
  const driver = v.driver as JobSpecInput['driver'];
  const spec: JobSpecInput = { driver, command, gpus, priority };
  if (v.image.trim()) spec.image = v.image.trim(); // the schema says when it does not fit the driver
  if (v.name.trim()) spec.name = v.name.trim();
  const parsed = JobSpec.safeParse(spec);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, error: `${issue.path.join('.') || 'spec'}: ${issue.message}` };
  }
  return { ok: true, node: v.node, spec };
}
