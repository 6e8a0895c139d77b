import { describe, expect, test } from 'vitest';
import { currentFrame, initialState, matchFilter, reduce, type UiAction, type UiState } from '../../tui/state.js';

const run = (actions: UiAction[], s: UiState = initialState({ root: 'cluster' })) => actions.reduce(reduce, s);

describe('ui reducer', () => {
  test('starts on the root view', () => {
    const s = initialState({ root: 'cluster', readonly: true });
    expect(s.stack.map((f) => f.view)).toEqual(['cluster']);
    expect(s.readonly).toBe(true);
  });
  test('selection moves and clamps to the row count', () => {
    expect(currentFrame(run([{ type: 'move', delta: 1, count: 3 }, { type: 'move', delta: 5, count: 3 }])).selected).toBe(2);
    expect(currentFrame(run([{ type: 'move', delta: -1, count: 3 }])).selected).toBe(0);
    expect(currentFrame(run([{ type: 'moveTo', index: 99, count: 4 }])).selected).toBe(3);
    expect(currentFrame(run([{ type: 'move', delta: 1, count: 0 }])).selected).toBe(0);
  });
  test('push drills in, back pops, back on the root stays', () => {
    const s = run([{ type: 'push', view: 'node', arg: 'gpu01' }]);
    expect(currentFrame(s)).toMatchObject({ view: 'node', arg: 'gpu01', selected: 0 });
    expect(run([{ type: 'back' }], s).stack).toHaveLength(1);
    expect(run([{ type: 'back' }, { type: 'back' }], s).stack).toHaveLength(1);
  });
  test('the parent keeps its selection when a child is popped', () => {
    const s = run([{ type: 'move', delta: 2, count: 5 }, { type: 'push', view: 'node', arg: 'x' }, { type: 'back' }]);
    expect(currentFrame(s).selected).toBe(2);
  });
  test('filter prompt edits the frame filter live; enter keeps it, esc clears it', () => {
    let s = run([{ type: 'move', delta: 2, count: 5 }, { type: 'openPrompt', mode: 'filter' }, { type: 'type', text: 'gp' }, { type: 'type', text: 'ux' }, { type: 'backspace' }]);
    expect(currentFrame(s)).toMatchObject({ filter: 'gpu', selected: 0 });
    expect(s.prompt).toBe('filter');
    const kept = run([{ type: 'submitPrompt' }], s);
    expect(kept.prompt).toBeNull();
    expect(currentFrame(kept).filter).toBe('gpu');
    s = run([{ type: 'cancelPrompt' }], s);
    expect(currentFrame(s).filter).toBe('');
  });
  test('esc clears an active filter before going back', () => {
    const s = run([{ type: 'push', view: 'node', arg: 'a' }, { type: 'openPrompt', mode: 'filter' }, { type: 'type', text: 'py' }, { type: 'submitPrompt' }, { type: 'back' }]);
    expect(currentFrame(s)).toMatchObject({ view: 'node', filter: '' });
    expect(run([{ type: 'back' }], s).stack).toHaveLength(1);
  });
  test('command prompt: a view command resets the stack to root + target', () => {
    const typed = run([{ type: 'push', view: 'node', arg: 'a' }, { type: 'openPrompt', mode: 'command' }, { type: 'type', text: 'node b' }]);
    expect(typed.input).toBe('node b');
    const s = run([{ type: 'submitPrompt', command: { kind: 'view', view: 'node', arg: 'b' } }], typed);
    expect(s.stack.map((f) => [f.view, f.arg])).toEqual([['cluster', null], ['node', 'b']]);
    expect(s.prompt).toBeNull();
    const root = run([{ type: 'submitPrompt', command: { kind: 'view', view: 'cluster', arg: null } }], typed);
    expect(root.stack).toHaveLength(1);
  });
  test('command errors become the message; quit sets quit', () => {
    const open = run([{ type: 'openPrompt', mode: 'command' }]);
    expect(run([{ type: 'submitPrompt', command: { kind: 'error', message: 'unknown command' } }], open).message).toBe('unknown command');
    expect(run([{ type: 'submitPrompt', command: { kind: 'quit' } }], open).quit).toBe(true);
    expect(run([{ type: 'cancelPrompt' }], open)).toMatchObject({ prompt: null, input: '' });
  });
  test('help toggles, and esc closes it before going back', () => {
    const s = run([{ type: 'push', view: 'node', arg: 'a' }, { type: 'toggleHelp' }]);
    expect(s.help).toBe(true);
    const b = run([{ type: 'back' }], s);
    expect(b.help).toBe(false);
    expect(b.stack).toHaveLength(2);
  });
  test('typing without a prompt changes nothing', () => {
    const s = initialState({ root: 'cluster' });
    expect(reduce(s, { type: 'type', text: 'x' })).toBe(s);
  });
});

describe('filter matching', () => {
  test('plain text is a case-insensitive substring; "!" inverts; empty matches all', () => {
    expect(matchFilter('gpu01 up', 'GPU')).toBe(true);
    expect(matchFilter('gpu01 up', 'cpu')).toBe(false);
    expect(matchFilter('gpu01 up', '!cpu')).toBe(true);
    expect(matchFilter('gpu01 up', '!gpu')).toBe(false);
    expect(matchFilter('x', '')).toBe(true);
    expect(matchFilter('x', '!')).toBe(true);
  });
});
