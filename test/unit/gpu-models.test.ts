import { describe, expect, it } from 'vitest';
import { gpuModels } from '../../shared/util/gpu-models.js';

// `fleetml nodes` names every GPU model of a node, not the first one times the count.
describe('gpuModels', () => {
  it('summarises a node by model, in the order first seen', () => {
    expect(gpuModels(['NVIDIA A100-SXM4-80GB', 'Tesla T4'])).toBe('1× A100-SXM4-80GB, 1× Tesla T4');
    expect(gpuModels(['NVIDIA RTX A5000', 'NVIDIA RTX A5000'])).toBe('2× RTX A5000');
    expect(gpuModels(['NVIDIA H100 80GB HBM3', 'NVIDIA GeForce RTX 3060', 'NVIDIA H100 80GB HBM3'])).toBe('2× H100 80GB HBM3, 1× GeForce RTX 3060');
    expect(gpuModels([null])).toBe('1× GPU');
    expect(gpuModels([])).toBe('-');
  });
});
