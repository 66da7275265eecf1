// Exact decimals: decimal.js for parsing and printing, scaled BigInt integers for the hot arithmetic.
import { Decimal as DecimalJs } from 'decimal.js';

/**
 * decimal.js with room to spare: a sum of ten million prices of 24 significant digits needs 32, a
 * product of two such sums 64; 1000 digits never rounds anything pricealert computes. Half-even is the
 * contract's rounding for printed measures.
 */
export const Decimal = DecimalJs.clone({
  precision: 1000,
  rounding: DecimalJs.ROUND_HALF_EVEN,
  toExpNeg: -9e15,
  toExpPos: 9e15,
});
export type Decimal = InstanceType<typeof Decimal>;

/** Plain non-negative decimals as users and venues write them: `43250`, `0.5`, `43250.10`. No sign, no exponent. */
const DECIMAL_PATTERN = /^(\d+)(?:\.(\d+))?$/;

/** The digits of a decimal string scaled to an integer: `12.340` → `{ units: 1234n, scale: 2 }`. */
export interface Scaled {
  units: bigint;
  scale: number;
}

/**
 * Parses a plain decimal string, trailing fractional zeros dropped; `undefined` for anything else.
 * Written out by hand rather than with the regex: it runs twice for every trade folded.
 */
export function parseScaled(text: string): Scaled | undefined {
  const length = text.length;
  if (length === 0) return undefined;
  let dot = -1;
  let lastNonZero = -1;
  for (let index = 0; index < length; index += 1) {
    const code = text.charCodeAt(index);
    if (code === 46 /* . */) {
      if (dot !== -1 || index === 0 || index === length - 1) return undefined;
      dot = index;
    } else if (code < 48 || code > 57) {
      return undefined;
    } else if (dot !== -1 && code !== 48) {
      lastNonZero = index;
    }
  }
  if (dot === -1) return { units: BigInt(text), scale: 0 };
  const scale = lastNonZero === -1 ? 0 : lastNonZero - dot;
  return { units: BigInt(text.slice(0, dot) + text.slice(dot + 1, dot + 1 + scale)), scale };
}

/** Whether `text` is a plain decimal string (see {@link parseScaled}). */
export const isDecimalString = (text: string): boolean => DECIMAL_PATTERN.test(text);

const POW10: bigint[] = [];
/** 10^n as a BigInt, cached. */
export function pow10(n: number): bigint {
  let cached = POW10[n];
  if (cached === undefined) {
    cached = 10n ** BigInt(n);
    POW10[n] = cached;
  }
  return cached;
}

/** Prints `units / 10^scale` exactly, trailing zeros removed: `(432501n, 1)` → `"43250.1"`. */
export function formatScaled(units: bigint, scale: number): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale).replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

const MEASURE_DECIMALS = 8;

/**
 * The contract's output rule for a measure value `numerator / denominator` (denominator > 0): rounded
 * half-even to 8 decimal places from the exact quotient (never from an already rounded one), trailing
 * zeros removed, no exponent.
 */
export function formatRatio(numerator: bigint, denominator: bigint): string {
  const scaled = numerator * pow10(MEASURE_DECIMALS);
  let quotient = scaled / denominator;
  const twiceRemainder = (scaled % denominator) * 2n;
  const magnitude = twiceRemainder < 0n ? -twiceRemainder : twiceRemainder;
  const sign = scaled < 0n !== denominator < 0n ? -1n : 1n;
  if (magnitude > (denominator < 0n ? -denominator : denominator)) quotient += sign;
  else if (magnitude === (denominator < 0n ? -denominator : denominator) && quotient % 2n !== 0n)
    quotient += sign;
  return formatScaled(quotient, MEASURE_DECIMALS);
}

/** A decimal.js value printed by the output rule (half-even, 8 dp, no trailing zeros, no exponent). */
export const formatMeasure = (value: Decimal): string =>
  value.toDecimalPlaces(MEASURE_DECIMALS, Decimal.ROUND_HALF_EVEN).toFixed();

/** A plain decimal string with trailing zeros removed (`"100.50"` → `"100.5"`); `undefined` if it is not one. */
export function normalizeDecimal(text: string): string | undefined {
  const scaled = parseScaled(text);
  return scaled && formatScaled(scaled.units, scaled.scale);
}
