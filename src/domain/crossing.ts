// When a measure value crosses an alert's threshold, decided exactly (CONTRACT §3). Shared by the alert
// book (which finds crossings fast) and the reactor (which decides again against the alert's stream).
import { parseScaled, pow10 } from './decimal.ts';
import type { Direction } from './types.ts';

/** An exact measure value `num / den` (den > 0), e.g. MEAN = Σprice / count, never a rounded mean. */
export interface Ratio {
  num: bigint;
  den: bigint;
}

/** Thresholds carry at most 18 decimals (CONTRACT §4), so keys are integers scaled by 10^18. */
const KEY_DECIMALS = 18;
const KEY_UNIT = pow10(KEY_DECIMALS);

/** Threshold × 10^18, and the re-arm edge (T − rearmBy for ABOVE, T + rearmBy for BELOW) × 10^18; `undefined` if not plain decimals of ≤ 18 places. */
export function alertKeys(alert: {
  direction: Direction;
  threshold: string;
  rearmBy: string;
}): { key: bigint; rearmKey: bigint } | undefined {
  const threshold = parseScaled(alert.threshold);
  const rearmBy = parseScaled(alert.rearmBy);
  if (!threshold || !rearmBy || threshold.scale > KEY_DECIMALS || rearmBy.scale > KEY_DECIMALS)
    return undefined;
  const key = threshold.units * pow10(KEY_DECIMALS - threshold.scale);
  const margin = rearmBy.units * pow10(KEY_DECIMALS - rearmBy.scale);
  return { key, rearmKey: margin === 0n ? key : alert.direction === 'ABOVE' ? key - margin : key + margin };
}

/** The ratio's numerator on the keys' scale; computed once per measure value, then one multiplication per comparison. */
export const scaledNumerator = (ratio: Ratio): bigint => ratio.num * KEY_UNIT;

/** ABOVE fires when value ≥ T, BELOW when value ≤ T: `num·10^18 ≥ key·den`. */
export function fires(
  direction: Direction,
  key: bigint,
  ratio: Ratio,
  numerator = scaledNumerator(ratio),
): boolean {
  const threshold = key * ratio.den;
  return direction === 'ABOVE' ? numerator >= threshold : numerator <= threshold;
}

/** A disarmed ABOVE alert re-arms when value < T − rearmBy, BELOW when value > T + rearmBy. */
export function rearms(
  direction: Direction,
  rearmKey: bigint,
  ratio: Ratio,
  numerator = scaledNumerator(ratio),
): boolean {
  const edge = rearmKey * ratio.den;
  return direction === 'ABOVE' ? numerator < edge : numerator > edge;
}
