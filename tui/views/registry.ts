// The view registry: every view the console knows, in one list. Later issues (jobs, models, rollouts,
// drift) plug in by adding a ViewSpec here; `:` commands, help and Enter all read from this list.
import { DEFAULT_DRIFT_WINDOW } from '../drift-poller.js';
import { jobDetailLines } from '../render/job-detail.js';
import { findJob, jobKey } from '../render/job-row.js';
import { modelDetailLines } from '../render/model-detail.js';
import { findModel, modelKey } from '../render/model-row.js';
import { decisionsNewestFirst } from '../../shared/protocol/rollout-view.js';
import { findRolloutEntry, rolloutKey } from '../render/rollout-row.js';
import { ClusterView, visibleNodes } from './ClusterView.js';
import { DriftModelView } from './DriftModelView.js';
import { DriftView, visibleDrift } from './DriftView.js';
import { NodeView, frameNode, visibleProcesses } from './NodeView.js';
import { RolloutDetailView } from './RolloutDetailView.js';
import { RolloutsView, visibleRollouts } from './RolloutsView.js';
import { AutoView, visibleAutomations } from './AutoView.js';
import { autoKey } from '../render/auto-row.js';
import { JobDetailView } from './JobDetailView.js';
import { JobsView, visibleJobs } from './JobsView.js';
import { LogsView } from './LogsView.js';
import { ModelDetailView } from './ModelDetailView.js';
import { ModelsView, visibleModels } from './ModelsView.js';
import type { ViewSpec } from './types.js';

/** Cluster overview: the root view (first in VIEWS). */
export const clusterSpec: ViewSpec = {
  id: 'cluster',
  aliases: ['nodes', 'no', 'cl'],
  arg: 'none',
  title: (f) => (f.filter ? `cluster (filter: ${f.filter})` : 'cluster'),
  items: (nodes, f) => visibleNodes(nodes, f).map((n) => n.name),
  drill: (name) => ({ view: 'node', arg: name }),
  Component: ClusterView,
};

/** Node detail, opened with Enter on a node or `:node NAME`. */
export const nodeSpec: ViewSpec = {
  id: 'node',
  aliases: ['nd'],
  arg: 'required',
  argName: 'node name',
  title: (f) => `node ${f.arg ?? ''}${f.filter ? ` (process filter: ${f.filter})` : ''}`,
  items: (nodes, f) => visibleProcesses(frameNode(nodes, f), f).map((p) => p.key),
  Component: NodeView,
};

/** Every job of the fleet (`:jobs`); Enter opens the job, `l` its logs. */
export const jobsSpec: ViewSpec = {
  id: 'jobs',
  aliases: ['job', 'jb'],
  arg: 'none',
  title: (f) => `jobs${f.stateFilter && f.stateFilter !== 'all' ? ` (${f.stateFilter})` : ''}${f.filter ? ` (filter: ${f.filter})` : ''}`,
  items: (nodes, f) => visibleJobs(nodes, f).map(jobKey),
  drill: (key) => ({ view: 'job-detail', arg: key }),
  Component: JobsView,
};

/** One job, opened with Enter on a job or `:job-detail NODE/ID`; items are its lines (up/down scroll). */
export const jobDetailSpec: ViewSpec = {
  id: 'job-detail',
  aliases: ['jd'],
  arg: 'required',
  argName: 'node/job id',
  title: (f) => `job ${f.arg ?? ''}`,
  items: (nodes, f) => {
    const job = findJob(nodes, f.arg);
    return job ? jobDetailLines(job, 0).map((_, i) => String(i)) : [];
  },
  Component: JobDetailView,
};

/** Live output of one job (`l`, or `:logs NODE/ID`); items are the buffered lines (up/down scroll). */
export const logsSpec: ViewSpec = {
  id: 'logs',
  aliases: ['log'],
  arg: 'required',
  argName: 'node/job id',
  title: (f) => `logs ${f.arg ?? ''}`,
  items: (_nodes, _f, logs) => (logs?.lines ?? []).map((_, i) => String(i)),
  Component: LogsView,
};

/** Every model version of every node (`:models`); Enter opens the version. No mutating keys yet. */
export const modelsSpec: ViewSpec = {
  id: 'models',
  aliases: ['model', 'mo'],
  arg: 'none',
  title: (f) => `models${f.filter ? ` (filter: ${f.filter})` : ''}`,
  items: (nodes, f) => visibleModels(nodes, f).map(modelKey),
  drill: (key) => ({ view: 'model-detail', arg: key }),
  Component: ModelsView,
};

/** One model version, opened with Enter on a row or `:model-detail NODE/NAME@VERSION`; items are its lines (up/down scroll). */
export const modelDetailSpec: ViewSpec = {
  id: 'model-detail',
  aliases: ['md'],
  arg: 'required',
  argName: 'node/name@version',
  title: (f) => `model ${f.arg ?? ''}`,
  items: (nodes, f) => {
    const e = findModel(nodes, f.arg);
    return e ? modelDetailLines(e, 0).map((_, i) => String(i)) : [];
  },
  Component: ModelDetailView,
};

/** Drift alert state of every model version (`:drift`), pushed by drift.alerts; Enter opens a version's drift. */
export const driftSpec: ViewSpec = {
  id: 'drift',
  aliases: ['dr'],
  arg: 'none',
  title: (f) => `drift${f.filter ? ` (filter: ${f.filter})` : ''}`,
  items: (nodes, f) => visibleDrift(nodes, f).map(modelKey),
  drill: (key) => ({ view: 'drift-model', arg: key }),
  Component: DriftView,
};

/** One version's drift (`d` on a model, Enter in :drift, or `:drift-model NODE/NAME[@VERSION]`); items are its features. */
export const driftModelSpec: ViewSpec = {
  id: 'drift-model',
  aliases: ['dm'],
  arg: 'required',
  argName: 'node/name@version',
  title: (f) => `drift ${f.arg ?? ''} · window ${f.window ?? DEFAULT_DRIFT_WINDOW}`,
  items: (_nodes, _f, _logs, drift) => (drift?.report?.features ?? []).map((x) => x.name),
  Component: DriftModelView,
};

/** Rollouts of every coordinator (`:rollouts`), pushed by rollout.events; Enter opens one; p/r/P/ctrl-a act on it. */
export const rolloutsSpec: ViewSpec = {
  id: 'rollouts',
  aliases: ['rollout', 'ro'],
  arg: 'none',
  title: (f) => `rollouts${f.filter ? ` (filter: ${f.filter})` : ''}`,
  items: (nodes, f) => visibleRollouts(nodes, f).map(rolloutKey),
  drill: (key) => ({ view: 'rollout-detail', arg: key }),
  Component: RolloutsView,
};

/** One rollout (Enter in :rollouts, or `:rollout-detail NODE/ID`); items are its decisions, newest first (up/down scroll them). */
export const rolloutDetailSpec: ViewSpec = {
  id: 'rollout-detail',
  aliases: ['rd'],
  arg: 'required',
  argName: 'node/rollout id',
  title: (f) => `rollout ${f.arg ?? ''}`,
  items: (nodes, f) => {
    const e = findRolloutEntry(nodes, f.arg);
    return e ? decisionsNewestFirst(e.rollout).map((_, i) => String(i)) : [];
  },
  Component: RolloutDetailView,
};

/** Automations of every node (`:auto`), pushed by auto.events, with each one's newest run. No keys act yet. */
export const autoSpec: ViewSpec = {
  id: 'auto',
  aliases: ['automations', 'au'],
  arg: 'none',
  title: (f) => `automations${f.filter ? ` (filter: ${f.filter})` : ''}`,
  items: (nodes, f) => visibleAutomations(nodes, f).map(autoKey),
  Component: AutoView,
};

/** All views; the first is the root of the view stack. */
export const VIEWS: readonly ViewSpec[] = [clusterSpec, nodeSpec, jobsSpec, jobDetailSpec, logsSpec, modelsSpec, modelDetailSpec, driftSpec, driftModelSpec, rolloutsSpec, rolloutDetailSpec, autoSpec];

/** The spec of a view id (falls back to the root view). */
export function viewSpec(id: string, views: readonly ViewSpec[] = VIEWS): ViewSpec {
  return views.find((v) => v.id === id) ?? views[0];
}
