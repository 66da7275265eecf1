// A bounded push-to-pull queue that turns fan-out pushes into a subscription's async iterator.
import { userError } from './errors.ts';
//
// Fan-out never waits for a consumer: `push` is synchronous and O(1). What a consumer has not taken
// yet is counted against its Outlet (one per WebSocket or SSE response); when the outlet says the
// consumer is too far behind, the consumer is cut off instead of letting its queue grow.

/** Where a subscription's messages go, shared by every subscription of one connection. */
export interface Outlet {
  /** Messages queued for this connection but not yet handed to the transport. */
  queued: number;
  /** Whether the connection is so far behind that it must be cut off (queue or socket buffer full). */
  overloaded(): boolean;
  /** Ends the connection with a clear reason; idempotent. */
  cutOff(): void;
  readonly closed: boolean;
}

export const tooSlow = (): Error =>
  userError('LIMIT_EXCEEDED', 'too slow: this connection stopped reading; resume with your last cursor');

/** Whether the outlet takes one more message; one too far behind is cut off here. */
export function admits(outlet: Outlet): boolean {
  if (outlet.closed) return false;
  if (!outlet.overloaded()) return true;
  outlet.cutOff();
  return false;
}

export interface Channel<T> extends AsyncIterableIterator<T> {
  push(value: T): void;
  /** Ends the iteration after what is queued (or at once with an error). */
  end(error?: Error): void;
}

export function createChannel<T>(outlet: Outlet, onReturn: () => void): Channel<T> {
  let queue: T[] = [];
  let waiting: { resolve: (result: IteratorResult<T>) => void; reject: (error: Error) => void } | undefined;
  let ended = false;
  let failure: Error | undefined;
  let finished = false;

  const finish = (): IteratorResult<T> => {
    if (!finished) {
      finished = ended = true;
      outlet.queued -= queue.length;
      queue = [];
      onReturn();
    }
    return { value: undefined, done: true };
  };

  const channel: Channel<T> = {
    push(value) {
      if (ended) return;
      if (!admits(outlet)) return channel.end(tooSlow());
      if (waiting) {
        const { resolve } = waiting;
        waiting = undefined;
        resolve({ value, done: false });
        return;
      }
      queue.push(value);
      outlet.queued += 1;
    },
    end(error) {
      if (ended) return;
      ended = true;
      failure = error;
      if (error) {
        outlet.queued -= queue.length;
        queue = [];
      }
      if (waiting) {
        const pending = waiting;
        waiting = undefined;
        finish();
        if (error) pending.reject(error);
        else pending.resolve({ value: undefined, done: true });
      }
    },
    next() {
      if (queue.length > 0) {
        outlet.queued -= 1;
        return Promise.resolve({ value: queue.shift() as T, done: false });
      }
      if (failure) {
        const error = failure;
        failure = undefined;
        finish();
        return Promise.reject(error);
      }
      if (ended) return Promise.resolve(finish());
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject };
      });
    },
    return() {
      const pending = waiting;
      waiting = undefined;
      pending?.resolve({ value: undefined, done: true });
      return Promise.resolve(finish());
    },
    throw(error: unknown) {
      finish();
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    },
    [Symbol.asyncIterator]() {
      return channel;
    },
  };
  return channel;
}

/**
 * A channel fed by `follow`, which returns how to stop; stopped when the channel ends, even when it
 * ended (cut off as too slow) while `follow` was still handing it a backlog.
 */
export function followInto<T>(outlet: Outlet, follow: (channel: Channel<T>) => () => void): Channel<T> {
  let endedEarly = false;
  let stop = (): void => {
    endedEarly = true;
  };
  const channel = createChannel<T>(outlet, () => stop());
  const unfollow = follow(channel);
  if (endedEarly) unfollow();
  else stop = unfollow;
  return channel;
}
