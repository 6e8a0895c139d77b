// GPU models of a node in a few characters, for `fleetml nodes` and the console's cluster and node views.

/** "NVIDIA RTX A5000" → "RTX A5000" (the vendor prefix says nothing in a GPU column). */
const short = (name: string | null) => (name ?? 'GPU').replace(/^NVIDIA\s+/i, '').trim() || 'GPU';

/** GPUs by model, in the order first seen: ["A100", "T4"] → "1× A100, 1× T4"; none → "-". */
export function gpuModels(names: ReadonlyArray<string | null>): string {
  const counts = new Map<string, number>();
  for (const n of names) counts.set(short(n), (counts.get(short(n)) ?? 0) + 1);
  return counts.size ? [...counts].map(([m, c]) => `${c}× ${m}`).join(', ') : '-';
}
