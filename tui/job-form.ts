// The `n` submit form as pure data: fields, a reducer for editing, and the conversion to a JobSpec
// (checked with the protocol's own schema, so the form and the agent agree on what is valid).
import type { FleetNode } from '../shared/client/fleet-types.js';
import { JobSpec, type JobSpecInput } from '../shared/protocol/jobs.js';

/** Form fields, in Tab order. */
export const FORM_FIELDS = ['node', 'driver', 'image', 'command', 'gpus', 'priority', 'name'] as const;
/** One form field. */
export type FormField = (typeof FORM_FIELDS)[number];
/** Drivers offered by the form (left/right or space cycles). */
export const FORM_DRIVERS = ['process', 'docker', 'fake'] as const;

/** State of the submit form. */
export interface JobForm {
  values: Record<FormField, string>;
  /** Index into FORM_FIELDS. */
  focus: number;
  /** Node names the node field cycles through: the nodes that are up (all of them when none is). */
  nodes: string[];
  /** Validation or agent error shown under the fields. */
  error: string | null;
  /** A submit is in flight. */
  busy: boolean;
}

/** Fields chosen from a list (cycled, not typed). */
export function isChoice(f: FormField): boolean {
  return f === 'node' || f === 'driver';
}

/** A fresh form: node defaults to the first node that is up (else the first node), driver to process. */
export function newJobForm(nodes: readonly FleetNode[]): JobForm {
  const up = nodes.filter((n) => n.conn === 'up').map((n) => n.name);
  const names = up.length ? up : nodes.map((n) => n.name);
  const node = names[0] ?? '';
  return { values: { node, driver: 'process', image: '', command: '', gpus: '', priority: '', name: '' }, focus: FORM_FIELDS.indexOf('command'), nodes: names, error: null, busy: false };
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
      if (field === 'node') return set(cycle(f.nodes, f.values.node, a.delta));
      if (field === 'driver') return set(cycle(FORM_DRIVERS, f.values.driver as (typeof FORM_DRIVERS)[number], a.delta));
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
