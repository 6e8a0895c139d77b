import { describe, expect, test } from 'vitest';
import { formToSpec, newJobForm, reduceForm, splitCommand, type JobForm } from '../../tui/job-form.js';
import { fleet, unreachable } from './fixtures.js';

const typeInto = (f: JobForm, field: number, text: string): JobForm => reduceForm({ ...f, focus: field }, { type: 'input', text });

describe('submit form', () => {
  test('defaults: first node that is up (only up nodes offered), process driver, focus on the command', () => {
    const f = newJobForm([unreachable(), ...fleet()]);
    expect(f.values.node).toBe('gpu01');
    expect(f.values.driver).toBe('process');
    expect(f.nodes).toEqual(['gpu01', 'cpu01', 'mig01', 'sim01']);
    expect(newJobForm([unreachable()]).values.node).toBe('gpu03');
  });
  test('choice fields cycle, text fields take typing', () => {
    let f = newJobForm(fleet());
    f = reduceForm({ ...f, focus: 1 }, { type: 'cycle', delta: 1 });
    expect(f.values.driver).toBe('docker');
    f = reduceForm(f, { type: 'input', text: 'x' });
    expect(f.values.driver).toBe('docker');
    f = reduceForm({ ...f, focus: 0 }, { type: 'cycle', delta: -1 });
    expect(f.values.node).toBe('sim01');
    f = reduceForm(f, { type: 'focus', delta: -1 });
    expect(f.focus).toBe(6);
    f = reduceForm(reduceForm(f, { type: 'input', text: 'ab' }), { type: 'erase' });
    expect(f.values.name).toBe('a');
  });
  test('splits a command line shell-like', () => {
    expect(splitCommand(`python -c 'print("hi there")' "a \\"b\\"" c\\ d ''`)).toEqual(['python', '-c', 'print("hi there")', 'a "b"', 'c d', '']);
    expect(splitCommand('  ')).toEqual([]);
    expect(splitCommand("echo 'oops")).toEqual({ error: "unterminated ' quote in the command" });
  });
  test('builds a spec the protocol accepts', () => {
    let f = newJobForm(fleet());
    f = typeInto(f, 3, 'python train.py --lr 0.1');
    f = typeInto(f, 4, '2');
    f = typeInto(f, 6, 'exp1');
    expect(formToSpec(f)).toEqual({ ok: true, node: 'gpu01', spec: { driver: 'process', command: ['python', 'train.py', '--lr', '0.1'], gpus: 2, priority: 0, name: 'exp1' } });
  });
  test('says what to fix', () => {
    const f = newJobForm(fleet());
    expect(formToSpec(f)).toEqual({ ok: false, error: 'command is empty: type the program and its arguments' });
    const g = typeInto(typeInto(f, 3, 'x'), 4, 'two');
    expect(formToSpec(g)).toEqual({ ok: false, error: 'gpus must be a whole number (got "two")' });
    const docker = reduceForm({ ...typeInto(f, 3, 'x'), focus: 1 }, { type: 'cycle', delta: 1 });
    expect(formToSpec(docker)).toEqual({ ok: false, error: 'image: the docker driver needs an image' });
    const badName = typeInto(typeInto(f, 3, 'x'), 6, '-bad');
    expect(formToSpec(badName).ok).toBe(false);
  });
});
