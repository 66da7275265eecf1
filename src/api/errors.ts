// The API's error vocabulary (CONTRACT §4): every error a client sees carries one of these codes.
import type { GraphQLError } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';

export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'LIMIT_EXCEEDED'
  | 'RATE_LIMITED';

/** How much of one word (an id, a value) a message echoes back: a client's 500 KB id is not returned. */
const ECHOED_CHARS = 64;

/** The message with every word longer than 64 characters cut to its first 64 and `…`. */
export const clipped = (message: string): string =>
  message.replace(new RegExp(`\\S{${ECHOED_CHARS + 1},}`, 'g'), (word) => `${word.slice(0, ECHOED_CHARS)}…`);

/** An error meant for the client: a code, a sentence and, for bad input, the field it is about. */
export function userError(code: ErrorCode, message: string, field?: string): GraphQLError {
  return createGraphQLError(clipped(message), { extensions: field ? { code, field } : { code } });
}

/** Too many mutations: `retryAfter` says in how many seconds one will be accepted again. */
export const rateLimited = (retryAfter: number, overHttp: boolean): GraphQLError =>
  createGraphQLError(`too many mutations: try again in ${retryAfter} s`, {
    extensions: {
      code: 'RATE_LIMITED',
      retryAfter,
      ...(overHttp ? { http: { status: 429, headers: { 'Retry-After': String(retryAfter) } } } : {}),
    },
  });

/** Bad input, with the field named in the message as well as in `extensions.field`. */
export const badInput = (field: string, message: string): GraphQLError =>
  userError('BAD_USER_INPUT', `${field}: ${message}`, field);

/**
 * Whether a value is a GraphQLError, by its name: graphql can be loaded twice in one process (its ESM
 * and CJS builds, as under vitest), so `instanceof` would miss errors from the other copy. For the
 * same reason errors are made with yoga's createGraphQLError, from the copy the executor uses.
 */
export const isGraphQLError = (value: unknown): value is GraphQLError =>
  value instanceof Error && value.name === 'GraphQLError';
