// Trade times to the microsecond. A JS Date keeps milliseconds only, so times travel as
// microseconds since the epoch (a number: exact up to 2^53 µs, the year 2255) plus a canonical string.

/** A parsed instant: `micros` since the epoch and its canonical `YYYY-MM-DDTHH:MM:SS.ffffffZ` form. */
export interface TradeTime {
  iso: string;
  micros: number;
}

const ISO_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$/;

/**
 * Parses ISO-8601 with a zone (`Z` or `±HH:MM`) and up to microseconds. More digits are accepted only
 * when they are zeros, so no precision is silently dropped. `undefined` when not a valid instant.
 */
export function parseTime(text: string): TradeTime | undefined {
  const fast = canonicalMicros(text);
  if (fast !== undefined) return { iso: text, micros: fast };
  const match = ISO_PATTERN.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, fraction = '', zone] = match;
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  if (fraction.length > 6 && /[^0]/.test(fraction.slice(6))) return undefined;
  const wholeMillis = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls 31 February over into March; a valid date survives the round trip.
  if (new Date(wholeMillis).getUTCDate() !== day) return undefined;
  let offsetMinutes = 0;
  if (zone !== 'Z') {
    const digits = zone!.replace(':', '');
    offsetMinutes =
      (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5))) * (digits[0] === '-' ? -1 : 1);
  }
  const micros = (wholeMillis - offsetMinutes * 60_000) * 1000 + Number(fraction.slice(0, 6).padEnd(6, '0'));
  if (!Number.isSafeInteger(micros)) return undefined;
  const iso = formatMicros(micros);
  if (iso === text) rememberSecond(text, micros);
  return { iso, micros };
}

/** Canonical UTC text of an instant in microseconds: `2026-11-26T08:16:27.123456Z`. */
export function formatMicros(micros: number): string {
  const second = Math.floor(micros / 1_000_000);
  // Consecutive trades mostly share their second: its text is built once.
  if (second !== formattedSecond) {
    formattedSecond = second;
    formattedPrefix = new Date(second * 1000).toISOString().slice(0, 20); // YYYY-MM-DDTHH:MM:SS.
  }
  return `${formattedPrefix}${String(micros - second * 1_000_000).padStart(6, '0')}Z`;
}

let formattedSecond = Number.NaN;
let formattedPrefix = '';

/** Microseconds of a wall-clock Date (for `createdAt`, `triggeredAt` and friends). */
export const dateToIso = (date: Date): string => formatMicros(date.getTime() * 1000);

let cachedSecond = '';
let cachedSecondMicros = 0;

function rememberSecond(canonical: string, micros: number): void {
  cachedSecond = canonical.slice(0, 19);
  cachedSecondMicros = micros - Number(canonical.slice(20, 26));
}

/**
 * Microseconds of a canonical time (`…:SS.ffffffZ`, as every `TradeRecorded` stores it) whose second is
 * the one last parsed, without a regex; `undefined` when that shortcut does not apply.
 */
function canonicalMicros(text: string): number | undefined {
  if (
    text.length !== 27 ||
    text.charCodeAt(26) !== 90 /* Z */ ||
    text.charCodeAt(19) !== 46 /* . */ ||
    cachedSecond.length !== 19 ||
    !text.startsWith(cachedSecond)
  ) {
    return undefined;
  }
  let fraction = 0;
  for (let index = 20; index < 26; index += 1) {
    const digit = text.charCodeAt(index) - 48;
    if (digit < 0 || digit > 9) return undefined;
    fraction = fraction * 10 + digit;
  }
  return cachedSecondMicros + fraction;
}

/** Microseconds of a trade time (see {@link parseTime}); `undefined` when invalid. */
export const timeMicros = (text: string): number | undefined => parseTime(text)?.micros;
