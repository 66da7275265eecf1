// The API's error vocabulary (CONTRACT §4): every error a client sees carries one of these codes.
import { GraphQLError } from 'graphql';

export type ErrorCode = 'BAD_USER_INPUT' | 'UNAUTHENTICATED' | 'FORBIDDEN' | 'NOT_FOUND' | 'CONFLICT' | 'LIMIT_EXCEEDED';

/** An error meant for the client: a code, a sentence and, for bad input, the field it is about. */
export function userError(code: ErrorCode, message: string, field?: string): GraphQLError {
  return new GraphQLError(message, { extensions: field ? { code, field } : { code } });
}

/** Bad input, with the field named in the message as well as in `extensions.field`. */
export const badInput = (field: string, message: string): GraphQLError =>
  userError('BAD_USER_INPUT', `${field}: ${message}`, field);
