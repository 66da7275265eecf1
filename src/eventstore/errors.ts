// The store's failures as pricealert's own errors. The client's errors are translated here, once, by
// the port's functions (src/eventstore/store.ts); nothing else in pricealert knows the client's classes.
import { convertToCommandError, ErrorType, isCommandError, type CommandError } from '@eventstore/db-client';
import type { ExpectedRevision } from './store.ts';

export type StoreErrorCode = 'conflict' | 'unavailable' | 'stream-deleted' | 'not-found' | 'failed';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An append's expected revision was not the stream's: someone else wrote first (or the stream is new/gone). */
export class StoreConflict extends StoreError {
  constructor(
    readonly stream: string,
    readonly expected: ExpectedRevision,
    /** The stream's revision at the time, or `no_stream` when it had no events. */
    readonly actual: bigint | 'no_stream',
    options?: { cause?: unknown },
  ) {
    super(
      'conflict',
      `${stream}: expected revision ${String(expected)}, the stream is at ${String(actual)}`,
      options,
    );
  }
}

/**
 * The store could not answer: unreachable, not the leader, past a deadline, or the call was cancelled
 * (a node shutting down cancels its calls). Trying again later may succeed.
 */
export class StoreUnavailable extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('unavailable', message, options);
  }
}

/** The stream was deleted for good (tombstoned): it can be neither read nor written again. */
export class StoreStreamDeleted extends StoreError {
  constructor(
    readonly stream: string,
    options?: { cause?: unknown },
  ) {
    super('stream-deleted', `${stream} is deleted`, options);
  }
}

/** What a call named does not exist (a stream where one must, a persistent subscription group). */
export class StoreNotFound extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('not-found', message, options);
  }
}

const UNAVAILABLE: ReadonlySet<ErrorType> = new Set([
  ErrorType.UNAVAILABLE,
  ErrorType.NOT_LEADER,
  ErrorType.DEADLINE_EXCEEDED,
  ErrorType.TIMEOUT,
  ErrorType.CANCELLED,
]);

function translate(error: CommandError): StoreError {
  const options = { cause: error };
  // The client's NotFoundError (gRPC NOT_FOUND) is a command error missing from its CommandError union.
  const type = error.type as ErrorType;
  if (type === ErrorType.NOT_FOUND) return new StoreNotFound(error.message, options);
  if (UNAVAILABLE.has(type))
    return new StoreUnavailable(`the store is unavailable: ${error.message}`, options);
  switch (error.type) {
    case ErrorType.WRONG_EXPECTED_VERSION: {
      const actual = error.actualVersion;
      return new StoreConflict(
        error.streamName,
        error.expectedVersion,
        typeof actual === 'bigint' ? actual : 'no_stream',
        options,
      );
    }
    case ErrorType.STREAM_DELETED:
      return new StoreStreamDeleted(error.streamName, options);
    case ErrorType.STREAM_NOT_FOUND:
      return new StoreNotFound(`stream ${error.streamName} not found`, options);
    case ErrorType.PERSISTENT_SUBSCRIPTION_DOES_NOT_EXIST:
      return new StoreNotFound(error.message, options);
    default:
      return new StoreError('failed', `the store refused the call: ${error.message}`, options);
  }
}

/**
 * The pricealert error for a client error or a gRPC error of a call the port makes itself; anything
 * else (ours, programming errors) as it is.
 */
export function storeError(error: unknown): unknown {
  if (error instanceof StoreError || !(error instanceof Error)) return error;
  const converted = isCommandError(error) ? error : convertToCommandError(error);
  return isCommandError(converted) ? translate(converted) : error;
}
