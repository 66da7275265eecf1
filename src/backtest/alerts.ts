// The hypothetical alerts of a backtest: BacktestAlertInput (CONTRACT §4) checked and given its defaults.
import type { DecimalString, Direction, Measure } from '../domain/types.ts';
import { ALL_WINDOW } from '../domain/types.ts';
import { BacktestInputError } from './errors.ts';

/** One alert as the replay uses it: every default filled in, decimals normalised. */
export interface BacktestAlert {
  direction: Direction;
  threshold: DecimalString;
  measure: Measure;
  window: string;
  repeat: boolean;
  rearmBy: DecimalString;
}

const DIRECTIONS: readonly Direction[] = ['ABOVE', 'BELOW'];
const MEASURES: readonly Measure[] = ['LAST', 'MEAN', 'VWAP'];
const KNOWN_FIELDS = new Set(['direction', 'threshold', 'measure', 'window', 'repeat', 'rearmBy']);
const DECIMAL = /^\d+(\.\d+)?$/;
const MAX_THRESHOLD_DECIMALS = 18;

/**
 * Validates a list of BacktestAlertInput-shaped values (the parsed alerts file, or the GraphQL input).
 * `windows` are the configured windows; `all` is always accepted. Errors name the entry and the field,
 * e.g. `alerts[2].threshold: must be greater than 0`.
 */
export function parseBacktestAlerts(raw: unknown, windows: readonly string[]): BacktestAlert[] {
  if (!Array.isArray(raw)) throw new BacktestInputError('alerts', 'must be a JSON array of alerts');
  if (raw.length === 0) throw new BacktestInputError('alerts', 'must name at least one alert');
  return raw.map((entry: unknown, index) => parseAlert(entry, `alerts[${index}]`, windows));
}

function parseAlert(entry: unknown, at: string, windows: readonly string[]): BacktestAlert {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new BacktestInputError(at, 'must be an object like {"direction":"ABOVE","threshold":"43000"}');
  }
  const fields = entry as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!KNOWN_FIELDS.has(key))
      throw new BacktestInputError(
        `${at}.${key}`,
        `unknown field (expected one of ${[...KNOWN_FIELDS].join(', ')})`,
      );
  }

  const direction = oneOf(fields.direction, DIRECTIONS, `${at}.direction`);
  if (direction === undefined)
    throw new BacktestInputError(`${at}.direction`, 'is required (ABOVE or BELOW)');
  const threshold = decimal(fields.threshold, `${at}.threshold`);
  if (threshold === undefined) throw new BacktestInputError(`${at}.threshold`, 'is required');
  if (/^0*(\.0*)?$/.test(threshold))
    throw new BacktestInputError(`${at}.threshold`, 'must be greater than 0');
  if ((threshold.split('.')[1] ?? '').length > MAX_THRESHOLD_DECIMALS) {
    throw new BacktestInputError(
      `${at}.threshold`,
      `must have at most ${MAX_THRESHOLD_DECIMALS} decimal places`,
    );
  }
  const measure = oneOf(fields.measure, MEASURES, `${at}.measure`) ?? 'MEAN';
  const window = fields.window === undefined || fields.window === null ? '10m' : fields.window;
  if (typeof window !== 'string' || (window !== ALL_WINDOW && !windows.includes(window))) {
    throw new BacktestInputError(`${at}.window`, `must be one of ${[...windows, ALL_WINDOW].join(', ')}`);
  }
  const repeat = fields.repeat ?? false;
  if (typeof repeat !== 'boolean') throw new BacktestInputError(`${at}.repeat`, 'must be true or false');
  const rearmBy = decimal(fields.rearmBy, `${at}.rearmBy`) ?? '0';
  return { direction, threshold, measure, window, repeat, rearmBy };
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new BacktestInputError(field, `must be one of ${allowed.join(', ')}`);
}

/** Decimals are strings as in the API; a plain JSON number is accepted when it prints without an exponent. */
function decimal(value: unknown, field: string): DecimalString | undefined {
  if (value === undefined || value === null) return undefined;
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !DECIMAL.test(text)) {
    throw new BacktestInputError(field, 'must be a non-negative decimal written out, e.g. "43250.5"');
  }
  return text;
}
