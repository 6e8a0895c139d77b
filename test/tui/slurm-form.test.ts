import { describe, expect, test } from 'vitest';
import { jobFormLines } from '../../tui/components/JobFormView.js';
import { FORM_DRIVERS, formToSpec, newJobForm, nodeOffer, reduceForm, type JobForm } from '../../tui/job-form.js';
import { a5000, fleet } from './fixtures.js';
import { loginNode, slurmResources } from './slurm-fixtures.js';

const at = (f: JobForm, field: number): JobForm => ({ ...f, focus: field });
const cycle = (f: JobForm, field: number, delta = 1): JobForm => reduceForm(at(f, field), { type: 'cycle', delta });
const typeInto = (f: JobForm, field: number, text: string): JobForm => reduceForm(at(f, field), { type: 'input', text });

describe('submit form drivers', () => {
  test('a node that reports no resources offers every driver, slurm included, process first', () => {
    expect(FORM_DRIVERS).toEqual(['process', 'docker', 'fake', 'slurm']);
    let f = newJobForm(fleet());
    expect(f.values.driver).toBe('process');
    const seen = [f.values.driver];
    for (let i = 0; i < 4; i++) { f = cycle(f, 1); seen.push(f.values.driver); }
    expect(seen).toEqual(['process', 'docker', 'fake', 'slurm', 'process']);
  });
  test('a node that reports its drivers offers the available ones, preselecting its default_driver', () => {
    const f = newJobForm([loginNode(), a5000()]);
    expect(f.values).toMatchObject({ node: 'login-1', driver: 'slurm' });
    expect(f.offers['login-1'].drivers).toEqual(['process', 'slurm']); // docker is not available there; FORM_DRIVERS order
    expect(cycle(f, 1).values.driver).toBe('process');
    expect(cycle(cycle(f, 1), 1).values.driver).toBe('slurm');
  });
  test('offers: no default reported → process, else the first; none available → every reported one', () => {
    expect(nodeOffer(slurmResources({ default_driver: undefined })).default).toBe('process');
    expect(nodeOffer(slurmResources({ default_driver: undefined, drivers: [{ name: 'slurm', available: true, reason: null }] })).default).toBe('slurm');
    expect(nodeOffer(slurmResources({ drivers: [{ name: 'docker', available: false, reason: 'no engine' }] })).drivers).toEqual(['docker']);
    expect(nodeOffer(null)).toEqual({ drivers: [...FORM_DRIVERS], default: 'process', slurm: null });
  });
  test('the driver follows the node unless the user picked one the new node offers too', () => {
    const f = newJobForm([loginNode(), a5000()]);
    const toGpu = cycle(f, 0);
    expect(toGpu.values).toMatchObject({ node: 'gpu01', driver: 'process' }); // slurm was login-1's default
    expect(cycle(toGpu, 0).values).toMatchObject({ node: 'login-1', driver: 'slurm' });
    const picked = cycle(f, 1); // process, by hand
    expect(cycle(picked, 0).values.driver).toBe('process');
    const fake = cycle(cycle(toGpu, 1), 1); // gpu01: process → docker → fake
    expect(fake.values.driver).toBe('fake');
    expect(cycle(fake, 0).values.driver).toBe('slurm'); // login-1 does not offer fake
  });
  test('a slurm GPU job: the spec carries driver slurm and the GPUs', () => {
    let f = newJobForm([loginNode()]);
    f = typeInto(f, 3, `sh -c 'echo done-$CUDA_VISIBLE_DEVICES; exit 3'`);
    f = typeInto(f, 4, '1');
    expect(formToSpec(f)).toEqual({ ok: true, node: 'login-1', spec: { driver: 'slurm', command: ['sh', '-c', 'echo done-$CUDA_VISIBLE_DEVICES; exit 3'], gpus: 1, priority: 0 } });
    expect(formToSpec(typeInto(f, 2, 'my/image:1'))).toMatchObject({ ok: true, spec: { driver: 'slurm', image: 'my/image:1' } });
  });
  test('the form shows the Slurm partition and free GPUs beside a slurm driver; the drivers when focused', () => {
    const f = newJobForm([loginNode(), a5000()]);
    const lines = jobFormLines(f).map((l) => l.text);
    expect(lines).toContain('  driver    ‹ slurm ›  Slurm cluster test: partition debug, 0/2 GPUs free');
    const onGpu = jobFormLines(at(cycle(f, 0), 1)).map((l) => l.text);
    expect(onGpu).toContain('> driver    ‹ process ›  (process, docker, fake, slurm)');
    expect(jobFormLines(at(f, 2)).map((l) => l.text)).toContain('> image     █  (docker and slurm only)');
  });
});
