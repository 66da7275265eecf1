// The Decimal and DateTime scalars: exact strings in, exact strings out; numbers are refused.
import { GraphQLScalarType, Kind, type GraphQLError, type ValueNode } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import { isDecimalString } from '../domain/decimal.ts';
import { parseTime } from '../domain/time.ts';

function invalid(message: string): GraphQLError {
  return createGraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
}

function parseDecimal(value: unknown): string {
  if (typeof value !== 'string') throw invalid('Decimal must be a string such as "43250.1", not a number');
  if (value.length > 80 || !isDecimalString(value)) {
    throw invalid(`Decimal "${value.slice(0, 50)}" is not a plain decimal number such as "43250.1"`);
  }
  return value;
}

/** Any ISO-8601 time with a zone, returned in canonical UTC to the microsecond. */
function parseDateTime(value: unknown): string {
  const time = typeof value === 'string' ? parseTime(value) : undefined;
  if (!time) throw invalid('DateTime must be ISO-8601 with a zone, such as "2026-11-26T08:16:27.123456Z"');
  return time.iso;
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
