// The Decimal and DateTime scalars: exact strings in, exact strings out; numbers are refused.
import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';

const DECIMAL = /^-?\d{1,40}(\.\d{1,40})?$/;
// Calendar time in UTC; up to nanoseconds are read, the store keeps microseconds (CONTRACT §2).
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|\+00:00|-00:00)$/i;

function invalid(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
}

function parseDecimal(value: unknown): string {
  if (typeof value !== 'string') throw invalid('Decimal must be a string such as "43250.1", not a number');
  if (!DECIMAL.test(value)) throw invalid(`Decimal "${value.slice(0, 50)}" is not a plain decimal number such as "43250.1"`);
  return value;
}

/** Checks the fields of an ISO time (Date.parse alone accepts 2026-02-30) and returns it ending in `Z`. */
export function parseDateTime(value: unknown): string {
  const text = typeof value === 'string' ? value : '';
  const match = DATE_TIME.exec(text);
  const fields = match?.slice(1, 7).map(Number);
  if (match && fields) {
    const [year, month, day, hour, minute, second] = fields as [number, number, number, number, number, number];
    const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
    const valid =
      date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day &&
      date.getUTCHours() === hour && date.getUTCMinutes() === minute && date.getUTCSeconds() === second;
    if (valid) return `${text.slice(0, 19)}${match[7] === undefined ? '' : `.${match[7]}`}Z`;
  }
  throw invalid(`DateTime must be ISO-8601 UTC such as "2026-11-26T08:16:27.123456Z"`);
}

function literal(parse: (value: unknown) => string, name: string) {
  return (node: ValueNode): string => {
    if (node.kind !== Kind.STRING) throw invalid(`${name} must be a string literal`);
    return parse(node.value);
  };
}

export const Decimal = new GraphQLScalarType<string, string>({
  name: 'Decimal',
  description: 'An exact decimal number as a JSON string.',
  serialize: (value) => {
    if (typeof value === 'string') return value;
    throw new TypeError('Decimal values leave the server as strings');
  },
  parseValue: parseDecimal,
  parseLiteral: literal(parseDecimal, 'Decimal'),
});

export const DateTime = new GraphQLScalarType<string, string>({
  name: 'DateTime',
  description: 'An ISO-8601 UTC time.',
  serialize: (value) => {
    if (typeof value === 'string') return value;
    if (value instanceof Date) return value.toISOString();
    throw new TypeError('DateTime values leave the server as strings');
  },
  parseValue: parseDateTime,
  parseLiteral: literal(parseDateTime, 'DateTime'),
});
