import { describe, expect, it } from 'vitest';
import { exposureWarnings, isLoopbackHost } from '../../agent/api/exposure.js';

describe('exposure', () => {
  it('knows loopback hosts: 127.0.0.0/8, ::1, localhost; everything else (any address, any other name) is not', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST', 'a.localhost']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '[::]', '10.0.0.5', '192.168.1.2', 'fe80::1', 'gpu-07', 'gpu-07.lan', '128.0.0.1']) expect(isLoopbackHost(h), h).toBe(false);
  });
  it('warns for a non-loopback listen address without TLS only', () => {
    expect(exposureWarnings({ listen: '0.0.0.0:7070', tls: null })).toHaveLength(1);
    expect(exposureWarnings({ listen: '[::]:7070', tls: null })[0]).toMatch(/\[::\]:7070.*without TLS/);
    expect(exposureWarnings({ listen: '127.0.0.1:7070', tls: null })).toEqual([]);
    expect(exposureWarnings({ listen: '0.0.0.0:7070', tls: { cert: 'c.pem', key: 'k.pem' } })).toEqual([]);
  });
});
