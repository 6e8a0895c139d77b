import { describe, expect, test } from 'vitest';
import { bar, block } from '../../tui/render/bar.js';
import { CLUSTER_COLUMNS, clusterCounts, clusterRow, clusterRowSpan, connLabel, gpuSummary, plural } from '../../tui/render/cluster-row.js';
import { DASH, fmtBytes, fmtClocks, fmtGiB, fmtPct, fmtPower, fmtTemp, fmtUptime, fmtUsedTotal } from '../../tui/render/format.js';
import { GPU_COLUMNS, gpuRow, gpuSectionTitle, shortGpuName } from '../../tui/render/gpu-row.js';
import { hostSummaryLines } from '../../tui/render/host-summary.js';
import { driverAlertLine } from '../../tui/render/driver-line.js';
import { nodeLayout } from '../../tui/render/node-layout.js';
import { processRows } from '../../tui/render/process-row.js';
import { sparkline } from '../../tui/render/sparkline.js';
import { formatRow, layoutColumns, scrollOffset } from '../../tui/render/table.js';
import { GiB, a5000, fleet, mig, noGpu, simulated, unauthorized, unreachable } from './fixtures.js';

describe('formatters', () => {
  test('unknown values render as a dash, never 0', () => {
    for (const s of [fmtPct(null), fmtGiB(null), fmtTemp(null), fmtPower(null), fmtBytes(null), fmtUptime(null), fmtClocks(null, null), fmtUsedTotal(null, null)]) expect(s).toBe(DASH);
  });
  test('values carry their units', () => {
    expect(fmtPct(47.6)).toBe('48%');
    expect(fmtGiB(24 * GiB)).toBe('24.0G');
    expect(fmtUsedTotal(6 * GiB, 24 * GiB)).toBe('6.0/24.0G');
    expect(fmtUsedTotal(null, 24 * GiB)).toBe(`${DASH}/24.0G`);
    expect(fmtTemp(61.7)).toBe('62°C');
    expect(fmtPower(231.2, 300)).toBe('231/300W');
    expect(fmtPower(88, null)).toBe('88W');
    expect(fmtBytes(200 * 1024 ** 2)).toBe('200M');
    expect(fmtBytes(1.5 * 1024 ** 2)).toBe('1.5M');
    expect(fmtUptime(3 * 86400 + 4 * 3600 + 5)).toBe('3d4h');
  });
});

describe('bar and sparkline', () => {
  test('bar fills proportionally and labels the percentage', () => {
    expect(bar(48, 10)).toBe('[|||||     ]  48%');
    expect(bar(0, 4)).toBe('[    ]   0%');
    expect(bar(150, 4)).toBe('[||||] 150%'); // full meter, true value
  });
  test('bar of an unknown value is empty and labelled with a dash', () => {
    expect(bar(null, 4)).toBe(`[    ]    ${DASH}`);
  });
  test('block maps 0..100 onto eight levels, · when unknown', () => {
    expect(block(0)).toBe('▁');
    expect(block(100)).toBe('█');
    expect(block(null)).toBe('·');
  });
  test('sparkline on a fixed scale keeps gaps for nulls and pads short series', () => {
    expect(sparkline([0, 50, null, 100], 6, { min: 0, max: 100 })).toBe('  ▁▅ █');
  });
  test('sparkline shows only the newest points', () => {
    expect(sparkline([100, 100, 0, 0], 2, { min: 0, max: 100 })).toBe('▁▁');
  });
  test('sparkline of an empty or all-null series is blank', () => {
    expect(sparkline([], 3)).toBe('   ');
    expect(sparkline([null, null], 3)).toBe('   ');
  });
});

describe('table layout', () => {
  test('drops low-priority columns first and gives spare width to the flex column', () => {
    const wide = layoutColumns(CLUSTER_COLUMNS, 200);
    expect(wide.keep).toHaveLength(CLUSTER_COLUMNS.length);
    const narrow = layoutColumns(CLUSTER_COLUMNS, 60);
    expect(narrow.keep).not.toContain(6); // POWER goes first
    expect(narrow.keep).toContain(0);
    expect(formatRow(CLUSTER_COLUMNS, narrow, clusterRow(a5000())).length).toBeLessThanOrEqual(60);
  });
  test('scroll offset keeps the selection visible', () => {
    expect(scrollOffset(0, 100, 10)).toBe(0);
    expect(scrollOffset(50, 100, 10)).toBe(45);
    expect(scrollOffset(99, 100, 10)).toBe(90);
    expect(scrollOffset(3, 5, 10)).toBe(0);
  });
});

describe('cluster row', () => {
  test('an up node shows CPU, memory, one token per GPU, max temp and total power', () => {
    const cells = clusterRow(a5000(), 40);
    expect(cells.slice(0, 4)).toEqual(['gpu01', 'up', '37%', '23.5/64.0G']);
    expect(cells[4]).toBe('0▄48/▃25 1█91/▇83');
    expect(cells[5]).toBe('71°C');
    expect(cells[6]).toBe('462/460W');
  });
  test('GPU tokens get denser when the column is narrow', () => {
    expect(gpuSummary(a5000().stats!.gpu, 6)).toBe('▄▃ █▇');
  });
  test('an unreachable node shows the retry countdown and the error', () => {
    const n = unreachable();
    expect(clusterRow(n)).toEqual(['gpu03', 'UNREACHABLE 5s', 'connect ECONNREFUSED 10.0.0.13:7070']);
    expect(clusterRowSpan(n)).toBe(2);
    expect(clusterRowSpan(a5000())).toBeUndefined();
    const layout = layoutColumns(CLUSTER_COLUMNS, 78);
    expect(formatRow(CLUSTER_COLUMNS, layout, clusterRow(n), 2).trimEnd()).toBe('gpu03        UNREACHABLE 5s connect ECONNREFUSED 10.0.0.13:7070');
    expect(formatRow(CLUSTER_COLUMNS, layout, clusterRow(n), 2)).toHaveLength(78);
    expect(connLabel(unauthorized())).toBe('UNAUTHORIZED');
  });
  test('a node without GPU says why', () => {
    expect(clusterRow(noGpu())[4]).toBe('No GPU: no NVIDIA driver (libnvidia-ml.so.1 not found)');
    expect(clusterRow(noGpu())[6]).toBe(DASH);
  });
  test('a MIG GPU with unknown util shows a dash, not 0', () => {
    expect(clusterRow(mig(), 40)[4]).toBe(`0·${DASH}/▄38`);
  });
  test('simulated GPUs are marked SIM in every density', () => {
    for (const w of [40, 8, 2]) expect(gpuSummary(simulated().stats!.gpu, w)).toMatch(/^SIM /);
  });
  test('counts nodes, reachable nodes, GPUs and simulated nodes', () => {
    expect(clusterCounts(fleet())).toEqual({ nodes: 6, up: 4, down: 2, gpus: 5, simulated: 1 });
  });
});

describe('GPU rows', () => {
  test('a GPU row has index, short name, util and memory bars, temp, power, clocks, fan, sparkline', () => {
    const n = a5000();
    const cells = gpuRow(n.stats!.gpu.gpus[0], { history: n.history, sparkWidth: 6 });
    expect(cells).toHaveLength(GPU_COLUMNS.length);
    expect(cells[0]).toBe('0');
    expect(cells[1]).toBe('RTX A5000');
    expect(cells[2]).toBe('[||||    ]  48%');
    expect(cells[3]).toBe('[||    ] 6.0/24.0G');
    expect(cells.slice(4, 8)).toEqual(['62°C', '231/230W', '1695/8001MHz', '45%']);
    expect(cells[8]).toBe('▁▁ ▅█▄');
  });
  test('MIG GPU: util unknown, MIG instances counted', () => {
    const cells = gpuRow(mig().stats!.gpu.gpus[0]);
    expect(cells[1]).toBe('MIG×1 A100-SXM4-80GB');
    expect(cells[2]).toContain(DASH);
    expect(cells[7]).toBe(DASH);
  });
  test('simulated GPUs are marked in the row and the section title', () => {
    const g = simulated().stats!.gpu;
    expect(gpuRow(g.gpus[0], { simulated: true })[1]).toMatch(/^SIM /);
    expect(gpuSectionTitle(g)).toContain('SIMULATED');
  });
  test('absent GPU title gives the reason', () => {
    expect(gpuSectionTitle(noGpu().stats!.gpu)).toBe('No GPU: no NVIDIA driver (libnvidia-ml.so.1 not found)');
    expect(shortGpuName(null)).toBe(DASH);
  });
  test('a failed GPU shows its error', () => {
    const g = { ...a5000().stats!.gpu.gpus[0], status: 'error' as const, error: 'GPU_IS_LOST' };
    expect(gpuRow(g)[2]).toBe('ERROR: GPU_IS_LOST');
  });
});

describe('process rows', () => {
  test('a pid on two GPUs gives one row per GPU, sorted by GPU then memory', () => {
    const rows = processRows(a5000().stats!.gpu.gpus);
    expect(rows.map((r) => [r.gpuIndex, r.pid])).toEqual([[0, 4242], [0, 1337], [1, 4242]]);
    expect(rows[0].cells).toEqual(['0', '4242', 'C', 'python train.py', '5.0G', 'job-17']);
    expect(rows[1].cells[4]).toBe('200M');
    expect(new Set(rows.map((r) => r.key)).size).toBe(3);
  });
});

describe('host summary', () => {
  test('identity, CPU with per-core blocks, memory/swap/network, disks', () => {
    const n = a5000();
    const lines = hostSummaryLines(n.info, n.stats!.host, 200);
    expect(lines[0]).toBe('host gpu01 · Ubuntu 22.04 · kernel 5.15.0-91-generic · x64 · up 3d4h · agent 0.1.0');
    expect(lines[1]).toContain('load 2.50 1.80 1.20');
    expect(lines[1]).toContain('cores ▁█▅▁█▃▁▆');
    expect(lines[2]).toContain('23.5/64.0G');
    expect(lines[2]).toContain('swap 0.0/8.0G');
    expect(lines[2]).toContain('net ↓1.5M/s ↑300K/s');
    expect(lines[3]).toBe('DISK / 120.0/450.0G');
  });
  test('lines never exceed the width', () => {
    const n = a5000();
    for (const l of hostSummaryLines(n.info, n.stats!.host, 40)) expect(l.length).toBeLessThanOrEqual(40);
  });
});

describe('node layout', () => {
  test('never uses more than the height', () => {
    for (let h = 0; h < 30; h++) {
      const l = nodeLayout(h, 4, 8, 20);
      const used = l.hostLines + (l.gpuSection ? 2 + l.gpuRows : 0) + (l.processSection ? 1 + l.processRows : 0);
      expect(used).toBeLessThanOrEqual(h);
    }
  });
  test('80×24 fits host, two GPUs and the processes', () => {
    expect(nodeLayout(20, 4, 2, 3)).toEqual({ hostLines: 4, gpuRows: 2, gpuSection: true, processRows: 3, processSection: true });
  });
});

describe('cluster counts of a node that went down', () => {
  test('do not count the GPUs of its last sample as capacity', () => {
    const down = { ...a5000(), conn: 'unreachable' as const, error: 'connection lost' };
    const counts = clusterCounts([down, simulated()]);
    expect(counts.gpus).toBe(simulated().stats!.gpu.gpus.length);
    expect(counts.down).toBe(1);
  });
  test('say 1 node / 2 nodes', () => {
    expect(plural(1, 'node')).toBe('1 node');
    expect(plural(2, 'GPU')).toBe('2 GPUs');
  });
});

describe('driver alert line', () => {
  test('names each unavailable driver, for how long and why; nothing while all are available or none are sent', () => {
    const now = 1_000_000;
    expect(driverAlertLine(undefined, now, 100)).toBeNull();
    expect(driverAlertLine([{ name: 'docker', available: true, reason: null, since: now - 5000 }], now, 100)).toBeNull();
    const l = driverAlertLine([
      { name: 'process', available: true, reason: null, since: null },
      { name: 'docker', available: false, reason: 'container engine not reachable', since: now - 75_000 },
    ], now, 200);
    expect(l).toBe('DRIVERS docker unavailable for 1m15s: container engine not reachable');
    expect(driverAlertLine([{ name: 'docker', available: false, reason: 'x'.repeat(300), since: null }], now, 40)!.length).toBeLessThanOrEqual(40);
  });
});
