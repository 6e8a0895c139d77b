// The layout's import rules (scripts/lib/boundaries.ts) on small trees that keep or break each rule. The real tree is
// checked by scripts/check-boundaries.ts in `npm test`.
import { describe, expect, it } from 'vitest';
import { checkBoundaries, importsOf } from '../../scripts/lib/boundaries.js';

const check = (files: Record<string, string>) => checkBoundaries(new Map(Object.entries(files))).map((v) => `${v.file}:${v.line} -> ${v.target}`);

describe('import boundaries', () => {
  it('reads static, type-only, re-export and dynamic imports with their lines, and skips packages', () => {
    const refs = importsOf('agent/api/x.ts', "import { z } from 'zod';\nimport type { A } from '../jobs/job-store.js';\nexport { B } from './b.js';\nconst m = await import('../../tui/run.js');\nimport '../log.js';\n");
    expect(refs.map((r) => [r.line, r.target, r.typeOnly])).toEqual([
      [2, 'agent/jobs/job-store.ts', true], [3, 'agent/api/b.ts', false], [4, 'tui/run.ts', false], [5, 'agent/log.ts', false],
    ]);
  });

  it('keeps shared/protocol free of everything else of ours', () => {
    expect(check({ 'shared/protocol/a.ts': "import { x } from './b.js';\nimport { y } from '../util/paths.js';" })).toEqual(['shared/protocol/a.ts:2 -> shared/util/paths.ts']);
  });

  it('never lets shared/ import the agent, the TUI or the CLI', () => {
    expect(check({ 'shared/client/a.ts': "import { x } from '../../cli/output.js';\nimport { y } from '../../agent/log.js';\nimport { z } from '../protocol/index.js';" }))
      .toEqual(['shared/client/a.ts:1 -> cli/output.ts', 'shared/client/a.ts:2 -> agent/log.ts']);
  });

  it('never lets the agent and the TUI import each other or the CLI, even lazily', () => {
    expect(check({
      'agent/jobs/a.ts': "const t = await import('../../tui/run.js');",
      'tui/App.tsx': "import { startAgent } from '../agent/main.js';\nimport { x } from '../cli/format/job.js';\nimport { y } from '../shared/protocol/index.js';",
    })).toEqual(['agent/jobs/a.ts:1 -> tui/run.ts', 'tui/App.tsx:1 -> agent/main.ts', 'tui/App.tsx:2 -> cli/format/job.ts']);
  });

  it('lets a capability use another only through its public modules; main.ts composes everything', () => {
    expect(check({
      'agent/drift/monitor.ts': "import { ServingManager } from '../serving/serving.js';\nimport { Batcher } from '../serving/batcher.js';\nimport type { Pool } from '../serving/runtime.js';",
      'agent/main.ts': "import { JobStore } from './jobs/job-store.js';",
    })).toEqual(['agent/drift/monitor.ts:2 -> agent/serving/batcher.ts']);
  });

  it('never lets a capability import the API surface or the composition root', () => {
    expect(check({ 'agent/jobs/manager.ts': "import { RpcError } from '../api/rpc.js';\nimport type { RunningAgent } from '../main.js';" }))
      .toEqual(['agent/jobs/manager.ts:1 -> agent/api/rpc.ts', 'agent/jobs/manager.ts:2 -> agent/main.ts']);
  });

  it('only agent/cluster talks to other agents through the client', () => {
    expect(check({
      'agent/rollout/coordinator.ts': "import { AgentClient } from '../../shared/client/agent-client.js';",
      'agent/cluster/peers.ts': "import { AgentClient } from '../../shared/client/agent-client.js';",
    })).toEqual(['agent/rollout/coordinator.ts:1 -> shared/client/agent-client.ts']);
  });

  it('names a public module that no longer exists', () => {
    expect(checkBoundaries(new Map(), { checkPublicExist: true }).length).toBeGreaterThan(0);
  });
});
