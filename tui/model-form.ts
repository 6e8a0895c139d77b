// The forms of the models view as pure data: the traffic split (`a`, model.alias) and a rollout from a version (`r`,
// rollout.start). Each has fields, a reducer (the same edits as the job form) and a conversion to the method's params,
// checked with the protocol's own schema so the form and the agent agree on what is valid.
import { ModelAliasParams, type AliasTarget } from '../shared/protocol/models.js';
import { RolloutStartParams, RolloutStrategy } from '../shared/protocol/rollout.js';
import type { FormAction } from './job-form.js';

/** One field of a model form: typed text, or a choice cycled with left/right/space. */
export interface ModelFormField { id: string; label: string; choices?: readonly string[]; hint?: string }

/** Fields of the traffic-split form. */
export const ALIAS_FIELDS: readonly ModelFormField[] = [
  { id: 'split', label: 'split', hint: 'version=weight …, summing to 100 (e.g. v2=90 v1=10)' },
  { id: 'reason', label: 'reason', hint: 'optional; kept in the routing history' },
];

/** Fields of the rollout form. */
export const ROLLOUT_FIELDS: readonly ModelFormField[] = [
  { id: 'to', label: 'to', hint: 'the candidate version' },
  { id: 'from', label: 'from', hint: 'empty: what each node serves now' },
  { id: 'strategy', label: 'strategy', choices: RolloutStrategy.options },
  { id: 'steps', label: 'steps', hint: 'canary: candidate % per step, ending at 100' },
  { id: 'duration', label: 'step (s)', hint: 'seconds per step' },
  { id: 'nodes', label: 'nodes', hint: 'space-separated; empty: this node alone' },
  { id: 'reason', label: 'reason', hint: 'optional; kept in the audit log' },
];

/** State of a model form. */
export interface ModelForm {
  kind: 'alias' | 'rollout';
  /** The node the action goes to (the row's; the rollout's coordinator). */
  node: string;
  name: string;
  /** The version the form was opened on. */
  version: string;
  values: Record<string, string>;
  /** Index into the form's fields. */
  focus: number;
  error: string | null;
  busy: boolean;
}

/** The fields of a form, in Tab order. */
export function modelFormFields(f: Pick<ModelForm, 'kind'>): readonly ModelFormField[] {
  return f.kind === 'alias' ? ALIAS_FIELDS : ROLLOUT_FIELDS;
}

/** A traffic-split form on a version: the current split when the node reports it, else the version at 100 %. */
export function newAliasForm(node: string, name: string, version: string, current?: readonly AliasTarget[] | null): ModelForm {
  const split = current?.length ? current.map((t) => `${t.version}=${t.weight}`).join(' ') : `${version}=100`;
  return { kind: 'alias', node, name, version, values: { split, reason: '' }, focus: 0, error: null, busy: false };
}

/** A rollout form to a version, with the agent's defaults shown (canary 10,50,100, 300 s a step). */
export function newRolloutForm(node: string, name: string, version: string): ModelForm {
  return { kind: 'rollout', node, name, version, values: { to: version, from: '', strategy: 'canary', steps: '10,50,100', duration: '300', nodes: '', reason: '' }, focus: 1, error: null, busy: false };
}

function cycle(list: readonly string[], cur: string, delta: number): string {
  const i = Math.max(0, list.indexOf(cur));
  return list[(((i + delta) % list.length) + list.length) % list.length];
}

/** Apply one edit (pure). Typing into a choice does nothing; cycling a text field does nothing. */
export function reduceModelForm(f: ModelForm, a: FormAction): ModelForm {
  const fields = modelFormFields(f);
  const field = fields[f.focus];
  const set = (v: string): ModelForm => ({ ...f, values: { ...f.values, [field.id]: v }, error: null });
  switch (a.type) {
    case 'focus': return { ...f, focus: (((f.focus + a.delta) % fields.length) + fields.length) % fields.length };
    case 'input': return field.choices ? f : set(f.values[field.id] + a.text);
    case 'erase': return field.choices ? f : set(f.values[field.id].slice(0, -1));
    case 'cycle': return field.choices ? set(cycle(field.choices, f.values[field.id], a.delta)) : f;
    case 'error': return { ...f, error: a.text, busy: false };
    case 'busy': return { ...f, busy: a.value, error: a.value ? null : f.error };
  }
}

/** The first schema issue as "field: message". */
function issueText(e: { issues: { path: PropertyKey[]; message: string }[] }): string {
  const i = e.issues[0];
  return `${i.path.map(String).join('.') || 'params'}: ${i.message}`;
}

/** Parse "v2=90 v1=10" (commas or spaces; "v2" alone means 100) into alias targets, or a message saying what to fix. */
export function parseSplit(text: string): AliasTarget[] | string {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  if (parts.length === 0) return 'split is empty: type version=weight, e.g. v2=100';
  const out: AliasTarget[] = [];
  for (const p of parts) {
    const m = /^([^=]+)(?:=(\d+)%?)?$/.exec(p);
    if (!m) return `"${p}" is not version=weight (e.g. v2=90)`;
    out.push({ version: m[1], weight: m[2] === undefined ? (parts.length === 1 ? 100 : NaN) : Number(m[2]) });
    if (Number.isNaN(out[out.length - 1].weight)) return `"${p}" has no weight: with several versions give each one (v2=90 v1=10)`;
  }
  return out;
}

/** The checked traffic split of the alias form, or the first problem. */
export function aliasFormToParams(f: ModelForm): { ok: true; targets: AliasTarget[]; reason?: string } | { ok: false; error: string } {
  const targets = parseSplit(f.values.split ?? '');
  if (typeof targets === 'string') return { ok: false, error: targets };
  const reason = f.values.reason?.trim() || undefined;
  const r = ModelAliasParams.safeParse({ name: f.name, targets, ...(reason ? { reason } : {}) });
  if (!r.success) return { ok: false, error: issueText(r.error) };
  return { ok: true, targets, ...(reason ? { reason } : {}) };
}

/** The checked rollout.start params of the rollout form, or the first problem. */
export function rolloutFormToParams(f: ModelForm): { ok: true; params: RolloutStartParams } | { ok: false; error: string } {
  const v = f.values;
  const steps = v.steps.split(/[\s,]+/).filter(Boolean);
  if (steps.some((s) => !/^\d+$/.test(s))) return { ok: false, error: `steps must be whole percentages like 10,50,100 (got "${v.steps}")` };
  const duration = v.duration.trim();
  if (duration && !/^\d+(\.\d+)?$/.test(duration)) return { ok: false, error: `step (s) must be a number of seconds (got "${v.duration}")` };
  const nodes = v.nodes.split(/[\s,]+/).filter(Boolean);
  const params: RolloutStartParams = {
    name: f.name, to: v.to.trim(), strategy: v.strategy as RolloutStartParams['strategy'],
    ...(v.from.trim() ? { from: v.from.trim() } : {}),
    ...(steps.length ? { steps: steps.map(Number) } : {}),
    ...(duration ? { step_duration_s: Number(duration) } : {}),
    ...(nodes.length ? { nodes } : {}),
    ...(v.reason.trim() ? { reason: v.reason.trim() } : {}),
  };
  const r = RolloutStartParams.safeParse(params);
  if (!r.success) return { ok: false, error: issueText(r.error) };
  return { ok: true, params };
}
