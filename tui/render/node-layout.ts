/** How the node view splits its body height between sections. */
export interface NodeLayout {
  hostLines: number;
  /** GPU rows shown (the title and header line are extra when gpuSection). */
  gpuRows: number;
  gpuSection: boolean;
  /** Process rows shown (the header line is extra when processSection). */
  processRows: number;
  processSection: boolean;
}

/**
 * Split `height` lines: host summary (up to `hostWanted`), GPU title+header+rows, process header+rows.
 * GPUs come before processes; processes keep at least one row when there are any. Never exceeds `height`.
 */
export function nodeLayout(height: number, hostWanted: number, gpus: number, procs: number): NodeLayout {
  let left = Math.max(0, height);
  const hostLines = Math.min(hostWanted, Math.max(1, Math.min(left, left - 4)), left);
  left -= hostLines;
  const gpuHead = gpus > 0 ? 2 : 1; // title (+ column header when there are GPUs)
  const gpuSection = left >= gpuHead;
  const procReserve = procs > 0 ? 2 : 0;
  const gpuRows = gpuSection ? Math.max(0, Math.min(gpus, left - gpuHead - procReserve)) : 0;
  left -= gpuSection ? Math.min(left, gpuHead + gpuRows) : 0;
  const processSection = procs > 0 && left >= 2;
  const processRows = processSection ? Math.min(procs, left - 1) : 0;
  return { hostLines, gpuRows, gpuSection, processRows, processSection };
}
