import { Box } from 'ink';
import type { FleetNode } from '../../shared/client/fleet-types.js';
import type { DriftAlert, DriftReport } from '../../shared/protocol/drift.js';
import { Line } from '../components/Line.js';
import { Table, type TableRow } from '../components/Table.js';
import { idleFeed } from '../drift-poller.js';
import { driftHeaderLines, driftLayout, scoreLine } from '../render/drift-detail.js';
import { histogramLines } from '../render/drift-histogram.js';
import { DRIFT_FEATURE_COLUMNS, activeAlert, featureRow, featureTone, parseDriftKey } from '../render/drift-row.js';
import { layoutColumns } from '../render/table.js';
import { clampIndex } from '../state.js';
import type { ViewProps } from './types.js';

/** The alert to show: the node's pushed alerts when it reports them (they are live), else the report's. */
function alertOf(nodes: readonly FleetNode[], node: string, r: DriftReport | null): DriftAlert | null | undefined {
  if (!r) return undefined;
  const pushed = activeAlert(nodes.find((n) => n.name === node), r.name, r.version);
  return pushed === null ? r.alert : pushed;
}

/** The live performance of the version shown (undefined when the node reports none: no line at all). */
function perfOf(nodes: readonly FleetNode[], node: string, name: string, version: string | null | undefined) {
  const all = nodes.find((n) => n.name === node)?.modelPerf;
  if (!all) return undefined;
  return all.find((p) => p.name === name && (version ? p.version === version : true)) ?? null;
}

/**
 * One model version's drift over a window: header (reference, dataset and prediction drift, alert banner, last
 * error), the per-feature table, the selected feature's score over time and its reference vs current histogram.
 */
export function DriftModelView({ nodes, frame, selected, height, width, theme, drift }: ViewProps) {
  const t = parseDriftKey(frame.arg);
  if (!t) return <Line text={`"${frame.arg}" is not NODE/MODEL or NODE/MODEL@VERSION; :drift lists the versions`} width={width} theme={theme} tone="bad" />;
  const feed = drift ?? idleFeed(frame.arg, frame.window);
  const r = feed.report;
  const now = Date.now();
  const header = driftHeaderLines(r, {
    target: t, window: feed.window, alert: alertOf(nodes, t.node, r), error: feed.error,
    retryInMs: feed.retryAt !== null ? feed.retryAt - now : null, loading: feed.status === 'loading', now,
    perf: perfOf(nodes, t.node, t.name, r?.version ?? t.version),
  }).slice(0, Math.max(0, height));
  const features = r?.features ?? [];
  const sel = clampIndex(selected, features.length);
  const f = features[sel];
  const hist = f ? f.histogram ?? feed.histograms[f.name] : undefined;
  const lay = driftLayout(height - header.length, features.length, hist?.labels.length ?? 0);
  const rows: TableRow[] = features.map((x) => ({ key: `${x.role}:${x.name}`, cells: featureRow(x), tone: featureTone(x) }));
  const histTitle = f ? `${f.name}${f.role === 'prediction' ? ' (prediction)' : ''} over ${r?.window}` : '';
  return (
    <Box flexDirection="column">
      {header.map((l, i) => <Line key={`h${i}`} text={l.text} width={width} theme={theme} tone={l.tone} bold={l.bold} />)}
      {r && lay.table && features.length === 0 ? <Line text="the report has no features (the model declares no inputs?)" width={width} theme={theme} tone="dim" /> : null}
      {r && lay.table && features.length > 0 ? (
        <Table columns={DRIFT_FEATURE_COLUMNS} layout={layoutColumns(DRIFT_FEATURE_COLUMNS, width - 2)} rows={rows} selected={sel} height={lay.tableRows} width={width} theme={theme} />
      ) : null}
      {f && lay.spark ? (() => { const l = scoreLine(f, feed.history?.points ?? null, width); return <Line text={l.text} width={width} theme={theme} tone={l.tone} />; })() : null}
      {f && lay.hist > 0
        ? (hist
          ? histogramLines(hist, { width, height: lay.hist, title: histTitle }).map((l, i) => <Line key={`b${i}`} text={l.text} width={width} theme={theme} tone={l.tone} bold={l.bold} />)
          : <Line text={`${histTitle}: histogram loading…`} width={width} theme={theme} tone="dim" />)
        : null}
    </Box>
  );
}
