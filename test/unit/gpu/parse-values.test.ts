import { describe, it, expect } from 'vitest';
import { enabledFlag, int, isMissing, mibToBytes, normalizeBusId, num, str, sumOrNull } from '../../../agent/telemetry/gpu/parse-values.js';

describe('missing-value rule', () => {
  it('treats empty, N/A, any bracketed notice and the deprecation text as missing', () => {
    for (const v of ['', '  ', 'N/A', '[N/A]', '[Not Supported]', '[Unknown Error]', '[Requested functionality has been deprecated]', 'Requested functionality has been deprecated']) {
      expect(isMissing(v), v).toBe(true);
      expect(num(v)).toBeNull();
      expect(str(v)).toBeNull();
    }
  });
  it('keeps real values, including a reported 0', () => {
    expect(isMissing('0')).toBe(false);
    expect(num('0 C')).toBe(0);
    expect(str(' P0 ')).toBe('P0');
  });
});

describe('unit stripping', () => {
  it('strips units by regex on the value', () => {
    expect(num('631.95 W')).toBe(631.95);
    expect(num('1980 MHz')).toBe(1980);
    expect(num('100 %')).toBe(100);
    expect(num('41 C')).toBe(41);
    expect(int('16x')).toBe(16);
    expect(num('59')).toBe(59);
    expect(num('garbage')).toBeNull();
  });
  it('converts MiB to bytes as 2^20', () => {
    expect(mibToBytes('19818 MiB')).toBe(19818 * 2 ** 20);
    expect(mibToBytes('19818')).toBe(19818 * 2 ** 20);
    expect(mibToBytes('[N/A]')).toBeNull();
  });
  it('int() rejects fractions', () => {
    expect(int('4.5')).toBeNull();
  });
});

describe('flags, bus ids, sums', () => {
  it('maps Enabled/Disabled and nulls anything else', () => {
    expect(enabledFlag('Enabled')).toBe('enabled');
    expect(enabledFlag('Disabled')).toBe('disabled');
    expect(enabledFlag('N/A')).toBeNull();
  });
  it('normalises bus ids to the 8-digit upper-case form', () => {
    expect(normalizeBusId('00000000:2D:00.0')).toBe('00000000:2D:00.0');
    expect(normalizeBusId('0000:04:00.0')).toBe('00000000:04:00.0');
    expect(normalizeBusId('0000:2d:00.0')).toBe('00000000:2D:00.0');
    expect(normalizeBusId('N/A')).toBeNull();
  });
  it('sums present parts and nulls an all-missing sum', () => {
    expect(sumOrNull([1, null, 2])).toBe(3);
    expect(sumOrNull([null, null])).toBeNull();
  });
});
