import { describe, expect, it } from 'vitest';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { resolveTargets } from '../../shared/client/targets.js';
import { saveInventory, loadInventory } from '../../shared/client/inventory.js';
import { normaliseAgentUrl } from '../../shared/util/paths.js';
import { tempDir } from '../helpers/agent.js';

describe('agent URLs', () => {
  it('accepts host:port, ws(s) and http(s) and points at /rpc', () => {
    expect(normaliseAgentUrl('10.0.0.5:7070')).toBe('ws://10.0.0.5:7070/rpc');
    expect(normaliseAgentUrl('https://gpu1.lan:7443')).toBe('wss://gpu1.lan:7443/rpc');
    expect(normaliseAgentUrl('ws://[::1]:7070/rpc')).toBe('ws://[::1]:7070/rpc');
    expect(() => normaliseAgentUrl('ftp://x:1')).toThrow(/unsupported scheme/);
  });
});

describe('which agents a command talks to', () => {
  it('prefers --url over FLEETML_URL over the inventory over the local agent', () => {
    const t = tempDir();
    const env = { HOME: t.dir, XDG_CONFIG_HOME: join(t.dir, 'cfg'), XDG_DATA_HOME: join(t.dir, 'data') } as NodeJS.ProcessEnv;
    expect(() => resolveTargets({}, env)).toThrow(/no agent to talk to/);
    mkdirSync(join(t.dir, 'data', 'fleetml'), { recursive: true });
    writeFileSync(join(t.dir, 'data', 'fleetml', 'admin.token'), 'fml_local\n');
    expect(resolveTargets({}, env).targets).toEqual([{ name: 'local', url: 'ws://127.0.0.1:7070/rpc', token: 'fml_local', unnamed: true }]);
    saveInventory(join(t.dir, 'cfg', 'fleetml', 'cluster.yaml'), { nodes: [{ name: 'g1', url: '10.0.0.1:7070', token: 'fml_g1' }] });
    expect(resolveTargets({}, env).targets.map((x) => x.name)).toEqual(['g1']);
    expect(resolveTargets({}, { ...env, FLEETML_URL: '10.0.0.9:7070', FLEETML_TOKEN: 'fml_env' }).targets[0]).toMatchObject({ url: 'ws://10.0.0.9:7070/rpc', token: 'fml_env' });
    expect(resolveTargets({ url: '10.0.0.8:1', token: 'fml_flag' }, { ...env, FLEETML_URL: '10.0.0.9:7070', FLEETML_TOKEN: 'fml_env' }).targets[0].token).toBe('fml_flag');
    expect(() => resolveTargets({ url: '10.0.0.8:1' }, env)).toThrow(/without a token/);
    t.cleanup();
  });
  it('reads token files and rejects bad inventories with the file name', () => {
    const t = tempDir();
    const inv = join(t.dir, 'inv.yaml');
    writeFileSync(join(t.dir, 'tok'), 'fml_from_file\n');
    writeFileSync(inv, `nodes:\n  - {name: a, url: "127.0.0.1:1", token_file: ${join(t.dir, 'tok')}}\n`);
    expect(resolveTargets({ inventory: inv }, {}).targets[0].token).toBe('fml_from_file');
    writeFileSync(inv, 'nodes:\n  - {name: a, url: x}\n  - {name: a, url: y}\n');
    expect(() => loadInventory(inv)).toThrow(/appears twice/);
    writeFileSync(inv, 'nodes:\n  - {name: "bad name", url: x}\n');
    expect(() => loadInventory(inv)).toThrow(new RegExp(inv.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    writeFileSync(inv, 'nodes:\n  - {name: a, url: "127.0.0.1:1"}\n');
    expect(() => resolveTargets({ inventory: inv }, {})).toThrow(/no token/);
    t.cleanup();
  });
});
