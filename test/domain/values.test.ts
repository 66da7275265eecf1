import { describe, expect, it } from 'vitest';
import {
  Decimal,
  formatMeasure,
  formatRatio,
  normalizeDecimal,
  parseScaled,
} from '../../src/domain/decimal.ts';
import { parseEvent } from '../../src/domain/events.ts';
import { formatMicros, parseTime, timeMicros } from '../../src/domain/time.ts';

describe('decimals', () => {
  it('parses plain decimals only', () => {
    expect(parseScaled('43250.10')).toEqual({ units: 432501n, scale: 1 });
    for (const bad of ['1e5', '-1', '', '.5', '1.', 'NaN', ' 1']) expect(parseScaled(bad)).toBeUndefined();
    expect(normalizeDecimal('100.500')).toBe('100.5');
    expect(normalizeDecimal('7.000')).toBe('7');
  });
  it('prints measures half-even at 8 places from the exact value', () => {
    expect(formatRatio(1n, 3n)).toBe('0.33333333');
    expect(formatRatio(25n, 10n ** 9n)).toBe('0.00000002');
    expect(formatRatio(35n, 10n ** 9n)).toBe('0.00000004');
    expect(formatRatio(432501n, 10n)).toBe('43250.1');
    expect(formatMeasure(new Decimal('123456789.123456785'))).toBe('123456789.12345678');
    expect(formatMeasure(new Decimal('1e30'))).toBe('1000000000000000000000000000000');
  });
});

describe('trade times', () => {
  it('keeps microseconds and prints them canonically', () => {
    expect(parseTime('2026-11-26T08:16:27.123456Z')).toEqual({
      iso: '2026-11-26T08:16:27.123456Z',
      micros: 1_795_680_987_123_456,
    });
    expect(parseTime('2026-11-26T09:16:27.5+01:00')?.iso).toBe('2026-11-26T08:16:27.500000Z');
    expect(formatMicros(1_795_680_987_000_001)).toBe('2026-11-26T08:16:27.000001Z');
    expect(timeMicros('2026-11-26T08:16:27.123456Z')).toBe(1_795_680_987_123_456);
    expect(timeMicros('2026-11-26T08:16:27.123457Z')).toBe(1_795_680_987_123_457);
  });
  it('rejects what it cannot keep exactly', () => {
    for (const bad of [
      '2026-02-30T00:00:00Z',
      '2026-11-26T08:16:27',
      '2026-11-26T08:16:27.1234567Z',
      'yesterday',
    ])
      expect(parseTime(bad)).toBeUndefined();
    expect(parseTime('2026-11-26T08:16:27.123456000Z')?.micros).toBe(1_795_680_987_123_456);
  });
});

describe('parseEvent', () => {
  it('accepts the contract’s events and explains the rest', () => {
    expect(parseEvent('AlertExpired', { alertId: 'a', expiredAt: '2026-11-26T08:16:27Z' }).ok).toBe(true);
    expect(parseEvent('AlertExpired', { alertId: 'a' })).toEqual({
      ok: false,
      reason: expect.stringContaining('expiredAt'),
    });
    expect(parseEvent('Whatever', {})).toEqual({ ok: false, reason: 'unknown event type Whatever' });
  });
});
