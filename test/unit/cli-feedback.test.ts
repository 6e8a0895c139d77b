import { describe, expect, it } from 'vitest';
import { chunkLabels, parseLabels } from '../../cli/args/feedback.js';
import { feedbackSummary, performanceLine } from '../../cli/format/feedback.js';
import { UsageError } from '../../cli/output.js';

describe('parseLabels', () => {
  it('reads CSV with a header in any column order, quoted cells and blank lines', () => {
    expect(parseLabels('label,extra,id\n1,x,"a-1"\n\n0.5,y,b\n', 'f.csv')).toEqual([{ id: 'a-1', label: 1 }, { id: 'b', label: 0.5 }]);
  });
  it('reads JSON lines', () => {
    expect(parseLabels('{"id":"a","label":2}\n{"id":"b","label":"3"}\n', 'f.jsonl')).toEqual([{ id: 'a', label: 2 }, { id: 'b', label: 3 }]);
  });
  it('refuses a missing header, a bad label or id, naming the line', () => {
    expect(() => parseLabels('a,1\n', 'f.csv')).toThrow(/header must name the columns id and label/);
    expect(() => parseLabels('id,label\na,\n', 'f.csv')).toThrow(/f\.csv line 2: the label "" is not a number/);
    expect(() => parseLabels('id,label\nhas space,1\n', 'f.csv')).toThrow(UsageError);
    expect(() => parseLabels(`{"id":"${'x'.repeat(129)}","label":1}`, 'f')).toThrow(/not a request id/);
    expect(() => parseLabels('\n', 'f')).toThrow(/holds no labels/);
  });
  it('chunks to at most 10 000 labels a call', () => {
    expect(chunkLabels(Array.from({ length: 25_001 }, (_, i) => i)).map((c) => c.length)).toEqual([10_000, 10_000, 5_001]);
  });
});

describe('performance and send summaries', () => {
  it('prints accuracy / F1 for classifiers, MAE / RMSE for regressors, and says when there are no labels', () => {
    const base = { version: 'v1', labelled: 40, requests: 120, window: '1h' };
    expect(performanceLine({ ...base, task: 'classification', accuracy: 0.75, f1: 0.7333, mae: null, rmse: null })).toBe('accuracy 0.750  f1 0.733  (40 labelled of 120 kept, 1h)');
    expect(performanceLine({ ...base, task: 'regression', accuracy: null, f1: null, mae: 0.1, rmse: 0.2 })).toBe('mae 0.100  rmse 0.200  (40 labelled of 120 kept, 1h)');
    expect(performanceLine({ ...base, labelled: 0, task: null, accuracy: null, f1: null, mae: null, rmse: null })).toMatch(/^no labels yet/);
    expect(feedbackSummary(5, [{ node: 'a', matched: 3, already_labelled: 1, error: null }])).toMatch(/5 labels: 3 matched, 1 already labelled, 1 unknown/);
  });
});
