import { describe, expect, test } from 'vitest';
import { parseCommand } from '../../tui/commands.js';
import { helpLines } from '../../tui/components/HelpView.js';
import { KEYMAP, activeBindings, footerText, helpRows, keyName, resolveKey, type KeyBinding } from '../../tui/keymap.js';
import { VIEWS } from '../../tui/views/registry.js';

const withDanger: KeyBinding[] = [...KEYMAP, { keys: ['ctrl+d'], description: 'delete', action: 'delete', dangerous: true, footer: true }];

describe('keymap', () => {
  test('normalises Ink keys', () => {
    expect(keyName('c', { ctrl: true })).toBe('ctrl+c');
    expect(keyName('', { return: true })).toBe('enter');
    expect(keyName('', { escape: true })).toBe('esc');
    expect(keyName('G', {})).toBe('G');
    expect(keyName('', { delete: true })).toBe('backspace');
  });
  test('core keys resolve to their actions', () => {
    const b = activeBindings(KEYMAP, { view: 'cluster', readonly: false });
    expect(resolveKey(':', b)).toBe('command');
    expect(resolveKey('/', b)).toBe('filter');
    expect(resolveKey('?', b)).toBe('help');
    expect(resolveKey('enter', b)).toBe('drill');
    expect(resolveKey('esc', b)).toBe('back');
    expect(resolveKey('q', b)).toBe('quit');
    expect(resolveKey('ctrl+c', b)).toBe('quit');
    expect(resolveKey('x', b)).toBeNull();
  });
  test('read-only mode removes dangerous bindings from input, footer and help', () => {
    const rw = activeBindings(withDanger, { view: 'cluster', readonly: false });
    const ro = activeBindings(withDanger, { view: 'cluster', readonly: true });
    expect(resolveKey('ctrl+d', rw)).toBe('delete');
    expect(resolveKey('ctrl+d', ro)).toBeNull();
    expect(footerText(rw, 500)).toContain('delete');
    expect(footerText(ro, 500)).not.toContain('delete');
    expect(helpRows(rw).map(([, d]) => d)).toContain('delete (dangerous)');
    expect(helpRows(ro).map(([, d]) => d).join()).not.toContain('delete');
  });
  test('the dangerous bindings of the default keymap are the job, model and rollout mutations, and they need actions', () => {
    expect(KEYMAP.filter((b) => b.dangerous).map((b) => b.action)).toEqual(['cancelJob', 'newJob', 'loadModel', 'unloadModel', 'aliasModel', 'startRollout', 'pauseRollout', 'resumeRollout', 'promoteRollout', 'abortRollout']);
    for (const b of KEYMAP.filter((x) => x.dangerous)) expect(b.usesActions).toBe(true);
  });
  test('without actions, bindings that use them vanish; read-only keeps logs', () => {
    const none = activeBindings(KEYMAP, { view: 'jobs', readonly: false, actions: false });
    expect(['l', 'ctrl+d', 'n'].map((k) => resolveKey(k, none))).toEqual([null, null, null]);
    const ro = activeBindings(KEYMAP, { view: 'jobs', readonly: true });
    expect(['l', 'ctrl+d', 'n'].map((k) => resolveKey(k, ro))).toEqual(['logs', null, null]);
    expect(resolveKey('f', none)).toBe('stateFilter');
  });
  test('shift+tab is its own key', () => {
    expect(keyName('', { tab: true, shift: true })).toBe('shift+tab');
    expect(keyName('', { tab: true })).toBe('tab');
  });
  test('view-scoped bindings apply only to their views', () => {
    expect(resolveKey('enter', activeBindings(KEYMAP, { view: 'node', readonly: false }))).toBeNull();
  });
  test('footer is cut at a whole hint', () => {
    const f = footerText(KEYMAP, 30);
    expect(f.length).toBeLessThanOrEqual(30);
    expect(f).toBe('<:> command  </> filter');
  });
  test('help lists every binding and every view alias', () => {
    const text = helpLines(KEYMAP, VIEWS).join('\n');
    for (const b of KEYMAP) expect(text).toContain(b.description);
    for (const a of [':nodes', ':no', ':cluster', ':node']) expect(text).toContain(a);
  });
});

describe('command line', () => {
  test('view aliases', () => {
    for (const c of ['nodes', 'no', 'cluster', ' NODES ']) expect(parseCommand(c, VIEWS)).toEqual({ kind: 'view', view: 'cluster', arg: null });
    expect(parseCommand('node gpu01', VIEWS)).toEqual({ kind: 'view', view: 'node', arg: 'gpu01' });
  });
  test('quit, empty, and errors that say what to try', () => {
    expect(parseCommand('q', VIEWS)).toEqual({ kind: 'quit' });
    expect(parseCommand('  ', VIEWS)).toEqual({ kind: 'none' });
    const unknown = parseCommand('jobz', VIEWS);
    expect(unknown.kind).toBe('error');
    expect(unknown.kind === 'error' && unknown.message).toContain('nodes');
    expect(parseCommand('node', VIEWS).kind).toBe('error');
    expect(parseCommand('nodes extra', VIEWS).kind).toBe('error');
  });
  test('a new view plugs in through the registry', () => {
    const routes = [...VIEWS, { id: 'jobs', aliases: ['jo', 'job'], arg: 'none' as const }];
    expect(parseCommand('jo', routes)).toEqual({ kind: 'view', view: 'jobs', arg: null });
  });
});

describe('keymap: no clashes', () => {
  test('in every view, each key does one thing (sort keys N/O/S/A/V/R/E never shadow promote P or bottom G)', () => {
    for (const v of VIEWS) {
      const seen = new Map<string, string>();
      for (const b of activeBindings(KEYMAP, { view: v.id, readonly: false })) {
        for (const k of b.keys) {
          expect(seen.get(k), `${k} in ${v.id}: ${seen.get(k)} and ${b.action}`).toBeUndefined();
          seen.set(k, b.action);
        }
      }
    }
    const ro = activeBindings(KEYMAP, { view: 'rollouts', readonly: false });
    expect(resolveKey('P', ro)).toBe('promoteRollout');
    expect(resolveKey('S', ro)).toBe('sort:state');
    expect(resolveKey('G', activeBindings(KEYMAP, { view: 'jobs', readonly: false }))).toBe('bottom');
  });
  test('every list view sorts by name and node; the row-action keys carry a footer condition', () => {
    for (const view of ['jobs', 'models', 'drift', 'rollouts', 'auto']) {
      const bs = activeBindings(KEYMAP, { view, readonly: false });
      expect(resolveKey('N', bs)).toBe('sort:name');
      expect(resolveKey('O', bs)).toBe('sort:node');
    }
    const when = Object.fromEntries(KEYMAP.filter((b) => b.when).map((b) => [b.action, b.when]));
    expect(when).toMatchObject({ logs: 'job:hasOutput', cancelJob: 'job:cancellable', loadModel: 'model:loadable', unloadModel: 'model:unloadable', aliasModel: 'model:reachable', startRollout: 'model:reachable' });
  });
});
