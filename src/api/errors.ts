// The API's error vocabulary (CONTRACT §4): every error a client sees carries one of these codes.
import type { GraphQLError } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';

export type ErrorCode =
  'BAD_USER_INPUT' | 'UNAUTHENTICATED' | 'FORBIDDEN' | 'NOT_FOUND' | 'CONFLICT' | 'LIMIT_EXCEEDED';

/** An error meant for the client: a code, a sentence and, for bad input, the field it is about. */
export function userError(code: ErrorCode, message: string, field?: string): GraphQLError {
  return createGraphQLError(message, { extensions: field ? { code, field } : { code } });
}

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
