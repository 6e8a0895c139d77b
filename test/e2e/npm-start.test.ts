// End-to-end test of `npm start` (scripts/start.ts) in a real terminal (tmux, 80×24): it starts a local agent and the
// TUI on it; quitting with q, or the terminal going away (SIGHUP, a closed SSH session), stops the agent it started.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort, tempDir } from '../helpers/agent.js';
import { HAS_TMUX, ROOT, Tmux, sleep, waitFor } from '../helpers/tmux.js';

if (!HAS_TMUX) console.warn('test/e2e/npm-start.test.ts skipped: `tmux` is not installed (apt-get install tmux); CI installs it');

/** Agent processes whose command line names dataDir. */
function agentsOf(dataDir: string): string[] {
  try { return execFileSync('pgrep', ['-f', `agent --listen .* --data-dir ${dataDir}`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean); } catch { return []; }
}

async function gone(dataDir: string, ms = 15_000): Promise<string[]> {
  const deadline = Date.now() + ms;
  while (agentsOf(dataDir).length && Date.now() < deadline) await sleep(200);
  return agentsOf(dataDir);
}

describe.skipIf(!HAS_TMUX)('npm start in a terminal', () => {
  let tmp: ReturnType<typeof tempDir>;
  let tmux: Tmux;
  beforeAll(() => { tmp = tempDir('fleetml-e2e-start-'); tmux = new Tmux(tmp.dir, 80, 24); });
  afterAll(() => { tmux.kill(); tmp.cleanup(); });

  const command = (port: number, dataDir: string) =>
    `cd '${ROOT}' && env -u CI -u NO_COLOR FLEETML_PORT=${port} FLEETML_DATA_DIR='${dataDir}' '${process.execPath}' dist/scripts/start.js; echo "[start exited $?]"; exec sleep 600`;

  test('shows the local node, and q stops the agent it started', async () => {
    const dataDir = join(tmp.dir, 'q');
    tmux.start('q', command(await freePort(), dataDir));
    await waitFor(() => tmux.screen('q'), (s) => /^fleetml · /m.test(s) && /^> \S+ +up /m.test(s), 'the TUI with the local node up', 30_000);
    expect(agentsOf(dataDir)).toHaveLength(1);
    tmux.type('q', 'q');
    await waitFor(() => tmux.screen('q'), (s) => s.includes('[start exited 0]'), 'npm start to exit 0 after q', 15_000);
    expect(await gone(dataDir)).toEqual([]);
  }, 60_000);

  test('SIGHUP (a closed SSH session) stops the agent too', async () => {
    const dataDir = join(tmp.dir, 'hup');
    tmux.start('hup', command(await freePort(), dataDir));
    // right after the spawn, before the agent is ready: it must not be left behind either
    await waitFor(() => tmux.screen('hup'), (s) => s.includes('starting a local agent') && agentsOf(dataDir).length === 1, 'the agent to be spawned', 30_000);
    // SIGHUP to npm start's process alone (a closed terminal also signals the agent's process group; this checks that
    // the script itself stops the agent it started)
    const shell = tmux.info('hup', '#{pane_pid}');
    const pid = Number(execFileSync('pgrep', ['-P', shell, '-f', 'scripts/start.js'], { encoding: 'utf8' }).trim());
    process.kill(pid, 'SIGHUP');
    expect(await gone(dataDir)).toEqual([]);
  }, 60_000);
});
