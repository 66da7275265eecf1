// The hypothetical alerts of a backtest: BacktestAlertInput (CONTRACT §4), checked by the same decision
// that creates live alerts, so a backtest accepts exactly the alerts createAlert would.
import { decideCreateAlert } from '../domain/alerts.ts';
import type { ConditionFields } from '../domain/conditions.ts';
import { badInput, DomainError } from '../domain/errors.ts';
import type { AlertCreated } from '../domain/events.ts';

/** One alert as the replay uses it: the fields of AlertCreated that decide when it fires, defaults filled in. */
export type BacktestAlert = Pick<AlertCreated, 'window' | 'repeat'> & ConditionFields;

const FIELDS = [
  'condition',
  'direction',
  'threshold',
  'percent',
  'low',
  'high',
  'measure',
  'window',
  'repeat',
  'rearmBy',
  'cooldown',
] as const;
const STRING_FIELDS = ['condition', 'direction', 'measure', 'window', 'cooldown'] as const;
/** A backtest needs no wall clock; AlertCreated's createdAt is not part of a BacktestAlert. */
const NO_TIME = '1970-01-01T00:00:00.000000Z';

/**
 * Checks a list of BacktestAlertInput-shaped values (a parsed alerts file, or the GraphQL input) for
 * `product` and the configured `windows` (`all` is always accepted). Throws a BAD_USER_INPUT
 * DomainError naming the entry and the field, e.g. `alerts[2].threshold: must be greater than 0`.
 * Decimals may be JSON numbers when they print without an exponent; they come back normalised.
 */
export function parseBacktestAlerts(
  raw: unknown,
  rules: { product: string; windows: readonly string[] },
): BacktestAlert[] {
  if (!Array.isArray(raw)) throw badInput('alerts', 'must be a JSON array of alerts');
  if (raw.length === 0) throw badInput('alerts', 'must name at least one alert');
  return raw.map((entry: unknown, index) => parseAlert(entry, `alerts[${index}]`, rules));
}

function parseAlert(
  entry: unknown,
  at: string,
  rules: { product: string; windows: readonly string[] },
): BacktestAlert {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw badInput(at, 'must be an object like {"direction":"ABOVE","threshold":"43000"}');
  }
  const fields = entry as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!(FIELDS as readonly string[]).includes(key)) {
      throw badInput(`${at}.${key}`, `unknown field (expected one of ${FIELDS.join(', ')})`);
    }
  }
  for (const key of STRING_FIELDS) {
    const value = fields[key];
    if (value !== undefined && value !== null && typeof value !== 'string')
      throw badInput(`${at}.${key}`, 'must be a string');
  }
  const repeat = fields.repeat ?? false;
  if (typeof repeat !== 'boolean') throw badInput(`${at}.repeat`, 'must be true or false');

  try {
    const [created] = decideCreateAlert(
      {
        alertId: at,
        userId: 'backtest',
        product: rules.product,
        condition: (fields.condition ?? undefined) as BacktestAlert['condition'],
        direction: (fields.direction ?? undefined) as BacktestAlert['direction'],
        threshold: decimalText(fields.threshold),
        percent: decimalText(fields.percent),
        low: decimalText(fields.low),
        high: decimalText(fields.high),
        cooldown: (fields.cooldown ?? undefined) as string | undefined,
        measure: (fields.measure ?? undefined) as BacktestAlert['measure'] | undefined,
        window: (fields.window ?? undefined) as string | undefined,
        repeat,
        rearmBy: decimalText(fields.rearmBy),
        now: NO_TIME,
      },
      undefined,
      { products: [rules.product], windows: rules.windows, activeCount: 0 },
    );
    const { alertId: _id, userId: _user, product: _product, createdAt: _at, ...alert } = created!;
    return alert;
  } catch (error) {
    if (error instanceof DomainError && error.field) {
      throw badInput(`${at}.${error.field}`, error.message.slice(error.field.length + 2));
    }
    throw error;
  }
}

/** JSON numbers become their decimal text (`43000.5`); an exponent form stays and is then rejected. */
function decimalText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'number' ? String(value) : (value as string);
}
