import { describe, expect, it } from 'vitest';
import { buildAutoCreate, parseCooldown, parseJobYaml, parseMaxRuns, parseRolloutArg, parseTrigger } from '../../cli/args/auto.js';
import { UsageError } from '../../cli/output.js';

const job = { driver: 'process' as const, command: ['python3', 'train.py'] };

describe('auto create arguments', () => {
  it('reads every trigger form', () => {
    expect(parseTrigger('drift')).toEqual({ kind: 'drift' });
    expect(parseTrigger('manual')).toEqual({ kind: 'manual' });
    expect(parseTrigger('performance')).toEqual({ kind: 'performance', metric: 'accuracy', op: '<', bound: 0.9 });
    expect(parseTrigger('performance:f1<=0.75')).toEqual({ kind: 'performance', metric: 'f1', op: '<=', bound: 0.75 });
    expect(parseTrigger('performance:rmse>12.5')).toEqual({ kind: 'performance', metric: 'rmse', op: '>', bound: 12.5 });
    expect(parseTrigger('schedule:0 3 * * 1-5')).toEqual({ kind: 'schedule', cron: '0 3 * * 1-5' });
  });
  it('refuses malformed triggers with an example', () => {
    expect(() => parseTrigger('sometimes')).toThrow(UsageError);
    expect(() => parseTrigger('schedule:0 3 *')).toThrow(/5-field cron/);
    expect(() => parseTrigger('performance:precision<0.9')).toThrow(/unknown metric "precision"/);
    expect(() => parseTrigger('performance:accuracy=0.9')).toThrow(/performance:METRIC<X/);
  });
  it('reads --rollout with steps and options', () => {
    expect(parseRolloutArg('canary 10,50,100 --step-duration 5m')).toEqual({ strategy: 'canary', steps: [10, 50, 100], step_duration_s: 300 });
    expect(parseRolloutArg('rolling --max-unavailable 2')).toEqual({ strategy: 'rolling', max_unavailable: 2 });
    expect(parseRolloutArg('all-at-once')).toEqual({ strategy: 'all-at-once' });
    expect(() => parseRolloutArg('shadow')).toThrow(/canary, rolling or all-at-once/);
    expect(() => parseRolloutArg('canary 10,50')).toThrow(/last canary step must be 100/);
    expect(() => parseRolloutArg('canary --step-duration')).toThrow(/needs a value/);
    expect(() => parseRolloutArg('canary --fast 1')).toThrow(/unknown option --fast/);
  });
  it('reads --cooldown and --max-runs', () => {
    expect(parseCooldown('6h')).toBe(21_600);
    expect(parseCooldown('0')).toBe(0);
    expect(parseMaxRuns('3/24h')).toEqual({ count: 3, window_s: 86_400 });
    expect(() => parseMaxRuns('3')).toThrow(/COUNT\/WINDOW/);
    expect(() => parseMaxRuns('3/10s')).toThrow(/at least 1m/);
  });
  it('reads the retraining job from YAML and refuses what is not a job spec', () => {
    expect(parseJobYaml('driver: process\ncommand: [python3, train.py]\ntimeout_s: 3600\n', 'job.yaml')).toEqual({ ...job, timeout_s: 3600 });
    expect(() => parseJobYaml('driver: process\n', 'job.yaml')).toThrow(/--retrain-job job.yaml: command/);
    expect(() => parseJobYaml('driver: [', 'job.yaml')).toThrow(/not valid YAML/);
  });
  it('builds the auto.create spec from the flags', () => {
    const spec = buildAutoCreate('credit-retrain', { model: 'credit', on: 'drift', gate: 'accuracy>=0.9', maxRegression: '0.02', rollout: 'canary 10,50,100 --step-duration 5m', cooldown: '6h', maxRuns: '3/24h', data: '/srv/credit.csv', testSet: '/srv/holdout.csv', nodes: 'gpu-1, gpu-2' }, job);
    expect(spec).toEqual({
      name: 'credit-retrain', model: 'credit', trigger: { kind: 'drift' }, job, data: { file: '/srv/credit.csv' },
      gate: { metric: 'accuracy', bound: 0.9, max_regression: 0.02, test_set: { file: '/srv/holdout.csv' } },
      rollout: { strategy: 'canary', steps: [10, 50, 100], step_duration_s: 300 }, cooldown_s: 21_600, max_runs: { count: 3, window_s: 86_400 }, nodes: ['gpu-1', 'gpu-2'],
    });
    expect(buildAutoCreate('a', { model: 'credit', on: 'manual', gate: 'rmse<=3' }, job).gate).toEqual({ metric: 'rmse', bound: 3, test_set: 'feedback' });
    expect(() => buildAutoCreate('a', { model: 'credit', on: 'manual', testSet: '/x.csv' }, job)).toThrow(/need --gate/);
    expect(() => buildAutoCreate('a', { model: 'credit', on: 'manual', gate: 'accuracy<=0.9' }, job)).toThrow(/accuracy needs >=/);
    expect(() => buildAutoCreate('Bad Name', { model: 'credit', on: 'manual' }, job)).toThrow(/name: automation names are/);
    expect(() => buildAutoCreate('a', { model: 'credit', on: 'manual' }, { ...job, restart: { policy: 'on-failure', max_retries: 2 } })).toThrow(/must not restart itself/);
  });
});
