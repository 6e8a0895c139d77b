import { describe, expect, it } from 'vitest';
import { UsageError } from '../../cli/output.js';
import {
  buildRolloutStart, chooseCoordinator, parseGate, parseNodeSelector, parseStepDuration, parseSteps, parseTestSetCsv, resolveRolloutNodes, splitCsvLine,
  type KnownNode,
} from '../../cli/args/rollout.js';
import { RolloutStartParams, TestSet } from '../../shared/protocol/rollout.js';

const usage = (fn: () => unknown, msg: RegExp) => {
  expect(fn).toThrow(UsageError);
  expect(fn).toThrow(msg);
};

describe('--gate', () => {
  it('parses metric and bound, the operator following the metric', () => {
    expect(parseGate('accuracy>=0.9')).toEqual({ metric: 'accuracy', bound: 0.9 });
    expect(parseGate(' F1 >= 0.75 ')).toEqual({ metric: 'f1', bound: 0.75 });
    expect(parseGate('rmse<=12.5')).toEqual({ metric: 'rmse', bound: 12.5 });
    expect(parseGate('mae<=1e-3')).toEqual({ metric: 'mae', bound: 0.001 });
  });
  it('refuses the wrong direction, unknown metrics, bad forms and impossible bounds', () => {
    usage(() => parseGate('accuracy<=0.9'), /accuracy needs >= \(higher is better\), e.g. --gate "accuracy>=0.9"/);
    usage(() => parseGate('rmse>=3'), /rmse needs <= \(lower is better\)/);
    usage(() => parseGate('accuracy>0.9'), /accuracy needs >=/);
    usage(() => parseGate('auc>=0.9'), /unknown metric "auc"; use one of accuracy, f1, mae, rmse/);
    usage(() => parseGate('accuracy'), /use METRIC>=X or METRIC<=X/);
    usage(() => parseGate('accuracy>=90'), /accuracy is between 0 and 1/);
    usage(() => parseGate('mae<=-1'), /mae is never negative/);
  });
});

describe('--steps and --step-duration', () => {
  it('steps are increasing percentages', () => {
    expect(parseSteps('10,50,100')).toEqual([10, 50, 100]);
    expect(parseSteps('5%, 25%, 100%')).toEqual([5, 25, 100]);
    usage(() => parseSteps('50,10,100'), /steps must increase/);
    usage(() => parseSteps('10,50,150'), /percentage from 1 to 100/);
    usage(() => parseSteps('0,100'), /percentage from 1 to 100/);
    usage(() => parseSteps('10;50'), /separated by commas/);
    usage(() => parseSteps(''), /separated by commas/);
  });
  it('durations accept 30s, 5m, 1h and seconds', () => {
    expect(parseStepDuration('30s')).toBe(30);
    expect(parseStepDuration('5m')).toBe(300);
    expect(parseStepDuration('1h')).toBe(3600);
    expect(parseStepDuration('1h30m')).toBe(5400);
    expect(parseStepDuration('90')).toBe(90);
    usage(() => parseStepDuration('5 minutes'), /--step-duration: cannot read "5 minutes" as a duration/);
    usage(() => parseStepDuration('0s'), /between 1s and 7d/);
    usage(() => parseStepDuration('8d'), /between 1s and 7d/);
  });
});

describe('--test-set CSV', () => {
  it('the label column holds the labels; the other columns are the features in order; empty is null', () => {
    const t = parseTestSetCsv('age,label,income\n34,1,52000\n,0,\n\n51,1,NA\n', { name: 'holdout.csv' });
    expect(t.features).toEqual(['age', 'income']);
    expect(t.rows).toEqual([[34, 52000], [null, null], [51, null]]);
    expect(t.labels).toEqual([1, 0, 1]);
    const { features: _f, ...wire } = t;
    expect(TestSet.safeParse(wire).success).toBe(true);
    expect(wire.name).toBe('holdout.csv');
  });
  it('quotes, CRLF, a BOM and --label-column', () => {
    const t = parseTestSetCsv('\uFEFF"x, y",target\r\n"1.5",2\r\n"-3",4.25\r\n', { labelColumn: 'target' });
    expect(t.features).toEqual(['x, y']);
    expect(t.rows).toEqual([[1.5], [-3]]);
    expect(t.labels).toEqual([2, 4.25]);
    expect(splitCsvLine('a,"b ""c""",d')).toEqual(['a', 'b "c"', 'd']);
  });
  it('says which line and column is wrong', () => {
    usage(() => parseTestSetCsv('a,b\n1,2\n', { source: '--test-set t.csv' }), /--test-set t.csv: no "label" column in the header \(a, b\); name another with --label-column NAME/);
    usage(() => parseTestSetCsv('a,y\n1,2\n', { labelColumn: 'target' }), /no "target" column/);
    usage(() => parseTestSetCsv('a,label\n1,2\n3\n'), /line 3: 1 columns, the header has 2/);
    usage(() => parseTestSetCsv('a,label\nred,1\n'), /line 2: a "red" is not a number; encode categories as numbers first/);
    usage(() => parseTestSetCsv('a,label\n1,\n'), /line 2: label "" is not a number/);
    usage(() => parseTestSetCsv('a,label\n'), /a header but no rows/);
    usage(() => parseTestSetCsv(''), /the file is empty/);
    usage(() => parseTestSetCsv('label\n1\n'), /only the label column/);
  });
});

describe('--nodes', () => {
  const known: KnownNode[] = [
    { target: 'box-a', name: 'gpu01', labels: { gpu: 'a100', zone: 'eu' } },
    { target: 'box-b', name: 'gpu02', labels: { gpu: 'a100', zone: 'us' } },
    { target: 'box-c', name: 'cpu01', labels: { gpu: 'none' } },
    { target: 'box-d', name: null, labels: null, error: 'connect ECONNREFUSED' },
  ];
  it('names or labels, not both', () => {
    expect(parseNodeSelector('a, b,c')).toEqual({ kind: 'names', names: ['a', 'b', 'c'] });
    expect(parseNodeSelector('gpu=a100,zone=eu')).toEqual({ kind: 'labels', labels: { gpu: 'a100', zone: 'eu' } });
    usage(() => parseNodeSelector('a,gpu=a100'), /either node names \(a,b,c\) or labels/);
    usage(() => parseNodeSelector(','), /--nodes needs node names/);
    usage(() => parseNodeSelector('a,a'), /a is given twice/);
  });
  it('resolves to the agents\' own names (node.info), by inventory or agent name', () => {
    expect(resolveRolloutNodes({ kind: 'names', names: ['box-a', 'gpu02'] }, known)).toEqual({ names: ['gpu01', 'gpu02'], warnings: [] });
    expect(resolveRolloutNodes({ kind: 'labels', labels: { gpu: 'a100' } }, known).names).toEqual(['gpu01', 'gpu02']);
    expect(resolveRolloutNodes({ kind: 'labels', labels: { gpu: 'a100', zone: 'eu' } }, known).names).toEqual(['gpu01']);
    // an unknown name goes to the coordinator as given (it may be one of its peers); the coordinator judges it
    const passed = resolveRolloutNodes({ kind: 'names', names: ['nope'] }, known);
    expect(passed.names).toEqual(['nope']);
    expect(passed.warnings.join('\n')).toMatch(/"nope" is not among box-a, box-b, box-c, box-d; sent as given/);
    usage(() => resolveRolloutNodes({ kind: 'labels', labels: { gpu: 'h100' } }, known), /no reachable node carries these labels/);
  });
  it('an unreachable node keeps its inventory name (with a warning), and is left out of label selection', () => {
    const all = resolveRolloutNodes('all', known);
    expect(all.names).toEqual(['gpu01', 'gpu02', 'cpu01', 'box-d']);
    expect(all.warnings).toEqual(['box-d: not reachable (connect ECONNREFUSED); sent by its inventory name']);
    expect(resolveRolloutNodes({ kind: 'labels', labels: { gpu: 'a100' } }, known).warnings[0]).toMatch(/box-d: not reachable .*labels are unknown, left out/);
  });
  it('the coordinator: --coordinator, else the only or first target', () => {
    expect(chooseCoordinator(['a', 'b'], undefined)).toBe('a');
    expect(chooseCoordinator(['a', 'b'], 'b')).toBe('b');
    usage(() => chooseCoordinator(['a', 'b'], 'c'), /--coordinator: no node named "c" among a, b/);
  });
});

describe('rollout start flags', () => {
  it('builds params the protocol accepts, sending only what was given', () => {
    const p = buildRolloutStart('fraud', {
      to: '4', from: '3', strategy: 'canary', steps: '10,50,100', stepDuration: '5m', maxErrorRate: '0.02', maxP95Ratio: '1.3', maxDrift: '0.1', minRequests: '200',
      testSet: 'x.csv', gate: 'accuracy>=0.9', maxRegression: '0.02', reason: 'Q3 model', all: true,
    });
    expect(p.params).toEqual({
      name: 'fraud', to: '4', from: '3', strategy: 'canary', steps: [10, 50, 100], step_duration_s: 300, dry_run: false, reason: 'Q3 model',
      analysis: { max_error_rate: 0.02, max_p95_ratio: 1.3, max_drift: 0.1, min_requests: 200 },
    });
    expect(p.gate).toEqual({ metric: 'accuracy', bound: 0.9, max_regression: 0.02 });
    expect(p.nodes).toBe('all');
    const parsed = RolloutStartParams.parse({ ...p.params, gate: { test_set: { rows: [[1]], labels: [1] }, ...p.gate } });
    expect(parsed.analysis.max_waits).toBe(3);
    const min = buildRolloutStart('fraud', { to: '4', strategy: 'canary', dryRun: true, nodes: 'gpu=a100' });
    expect(min.params).toEqual({ name: 'fraud', to: '4', strategy: 'canary', analysis: {}, dry_run: true });
    expect(min.nodes).toEqual({ kind: 'labels', labels: { gpu: 'a100' } });
    expect(buildRolloutStart('fraud', { to: '4', strategy: 'rolling', maxUnavailable: '2' }).params).toMatchObject({ strategy: 'rolling', max_unavailable: 2 });
  });
  it('impossible combinations fail at once, naming the flags', () => {
    usage(() => buildRolloutStart('fraud', {}), /--to VERSION is required/);
    usage(() => buildRolloutStart('fraud', { to: '4', nodes: 'a', all: true }), /--nodes and --all exclude each other/);
    usage(() => buildRolloutStart('fraud', { to: '4', gate: 'accuracy>=0.9' }), /--gate needs --test-set FILE/);
    usage(() => buildRolloutStart('fraud', { to: '4', testSet: 'x.csv' }), /--test-set needs --gate/);
    usage(() => buildRolloutStart('fraud', { to: '4', maxRegression: '0.1' }), /--max-regression applies to the test gate/);
    usage(() => buildRolloutStart('fraud', { to: '4', strategy: 'blue-green' }), /--strategy "blue-green": use one of canary, rolling, all-at-once, shadow/);
    usage(() => buildRolloutStart('fraud', { to: '4', strategy: 'rolling', steps: '10,100' }), /--steps applies to canary and shadow rollouts; rolling switches whole nodes/);
    usage(() => buildRolloutStart('fraud', { to: '4', maxUnavailable: '2' }), /--max-unavailable applies to --strategy rolling/);
    usage(() => buildRolloutStart('fraud', { to: '4', steps: '10,50' }), /the last canary step must be 100/);
    usage(() => buildRolloutStart('fraud', { to: '4', maxP95Ratio: '0.5' }), /--max-p95-ratio "0.5": give a number at least 1/);
    usage(() => buildRolloutStart('fraud', { to: '4', maxErrorRate: '2' }), /--max-error-rate "2": give a number from 0 to 1/);
    usage(() => buildRolloutStart('fraud', { to: '4', from: '4' }), /--from "4": from and to are the same version/);
    usage(() => buildRolloutStart('Fraud!', { to: '4' }), /MODEL "Fraud!": model names are/);
    usage(() => buildRolloutStart('fraud', { to: '4', labelColumn: 'y' }), /--label-column applies to --test-set FILE/);
  });
});
