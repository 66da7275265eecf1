// Errors a user can act on. The API maps `code` 1:1 to GraphQL `extensions.code`.

export type DomainErrorCode =
  'BAD_USER_INPUT' | 'UNAUTHENTICATED' | 'FORBIDDEN' | 'NOT_FOUND' | 'CONFLICT' | 'LIMIT_EXCEEDED';

export class DomainError extends Error {
  override readonly name = 'DomainError';
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    /** The input field at fault, named in the message too (`threshold: must be greater than 0`). */
    readonly field?: string,
  ) {
    super(field ? `${field}: ${message}` : message);
  }
}

export const badInput = (field: string, message: string): DomainError =>
  new DomainError('BAD_USER_INPUT', message, field);
