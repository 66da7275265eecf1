// Broadcast subscriptions — those whose results are the same for every subscriber (`price`) — are
// executed and serialized once per distinct document and variables, and each result's JSON is
// written to every subscriber of it.
//
// With thousands of clients on one product's price, whatever is done per client per change is most
// of the cost of a broadcast: a GraphQL execution, a JSON.stringify, a promise hop through the
// transport's `for await`. Here the first subscriber starts the one shared execution; each result is
// serialized once and handed to every subscriber's `send`, which only wraps it in that client's
// frame, synchronously. A later subscriber gets the latest result at once, which for `price` is the
// current figures, exactly what a fresh execution would have sent first. The transport still gets an
// async iterator per subscription, but one that yields nothing: it ends when the shared execution
// ends (the transport says `complete`) or fails with it (`error`), so those frames stay the
// transport's own. A subscriber whose `send` refuses (cut off as too slow) is dropped alone.
import { Kind, print, type DocumentNode, type ExecutionResult, type OperationDefinitionNode } from 'graphql';
import { tooSlow, type Outlet } from './channel.ts';

/** Root fields of Subscription whose results depend only on their arguments, never on the caller. */
const BROADCAST_FIELDS = new Set(['price']);

/** An outlet that never cuts off: the shared execution is drained at once by its own pump. */
const sharedOutlet: Outlet = { queued: 0, closed: false, overloaded: () => false, cutOff: () => {} };

/** Whether every root field of the operation is a broadcast field (fragments at the root are not shared). */
export function isBroadcast(operation: OperationDefinitionNode): boolean {
  if (operation.operation !== 'subscription') return false;
  return operation.selectionSet.selections.every(
    (selection) => selection.kind === Kind.FIELD && BROADCAST_FIELDS.has(selection.name.value),
  );
}

/**
 * What makes two subscriptions one shared execution: the operation as graphql prints it (no
 * comments, no layout, no operation name), the document's fragments, and the variables after
 * coercion (defaults applied, in the order they are declared). Keyed on the raw text, a comment made
 * every subscription its own execution, so one client could multiply the work of every trade.
 */
export function broadcastKey(
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
): string {
  const fragments = document.definitions.filter((definition) => definition.kind === Kind.FRAGMENT_DEFINITION);
  const printed = [{ ...operation, name: undefined }, ...fragments].map((definition) => print(definition));
  return JSON.stringify([printed, variables]);
}

/**
 * A result as the `payload` of a graphql-transport-ws `next` message, byte for byte what graphql-ws
 * would send: the result's own fields, then `errors` (if any) last.
 */
export function payloadJson(result: ExecutionResult): string {
  const { errors, ...rest } = result;
  return JSON.stringify({ ...rest, ...(errors ? { errors: errors.map((error) => error.toJSON()) } : {}) });
}

/** Writes one result, given as its payload JSON in UTF-8, to the subscriber; false when it can take no more. */
export type SendPayload = (payload: Buffer) => boolean;

type Subscribed = AsyncIterable<ExecutionResult> | ExecutionResult;

interface Subscriber {
  send: SendPayload;
  /** Ends the subscriber's iterator: done, or failed with `error`. */
  end(error?: Error): void;
}

interface Source {
  started: Promise<ExecutionResult | undefined>;
  subscribers: Set<Subscriber>;
  latest?: Buffer;
  /** Set once the shared execution has ended: a subscriber joining after it ends at once. */
  ended?: Error | true;
  /** Removes a subscriber; the last one to leave stops the shared execution. */
  leave(subscriber: Subscriber): void;
}

export interface Broadcasts {
  /**
   * Joins the shared execution for `key`, starting it with `start(sharedOutlet)` if there is none.
   * Results go to `send`; the returned iterator only ends or fails with the shared execution, or
   * ends when its `return()` is called (the subscriber leaves). The start's error result is
   * returned instead when it fails.
   */
  subscribe(
    key: string,
    send: SendPayload,
    start: (outlet: Outlet) => Promise<Subscribed> | Subscribed,
  ): Promise<Subscribed>;
}

/** An iterator that yields nothing: its first `next()` settles when `end` is called or it is returned. */
function silentIterator(onReturn: () => void): {
  iterator: AsyncIterableIterator<ExecutionResult>;
  end(error?: Error): void;
} {
  let settle: (error: Error | undefined) => void = () => {};
  const ended = new Promise<Error | undefined>((resolve) => (settle = resolve));
  let returned = false;
  const done = (): IteratorResult<ExecutionResult> => ({ value: undefined, done: true });
  const iterator: AsyncIterableIterator<ExecutionResult> = {
    async next() {
      const error = await ended;
      if (error) throw error;
      return done();
    },
    return() {
      if (!returned) {
        returned = true;
        onReturn();
      }
      settle(undefined);
      return Promise.resolve(done());
    },
    throw(error: unknown) {
      void iterator.return!();
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return { iterator, end: (error) => settle(error) };
}

export function createBroadcasts(): Broadcasts {
  const sources = new Map<string, Source>();

  const open = (key: string, start: (outlet: Outlet) => Promise<Subscribed> | Subscribed): Source => {
    const endAll = (error?: Error): void => {
      source.ended = error ?? true;
      for (const subscriber of source.subscribers) subscriber.end(error);
      source.subscribers.clear();
    };
    const pump = async (results: AsyncIterator<ExecutionResult>): Promise<void> => {
      try {
        for (let next = await results.next(); !next.done; next = await results.next()) {
          const payload = Buffer.from(payloadJson(next.value));
          source.latest = payload;
          for (const subscriber of source.subscribers) {
            if (subscriber.send(payload)) continue;
            source.leave(subscriber);
            subscriber.end(tooSlow());
          }
        }
        endAll();
      } catch (error) {
        endAll(error instanceof Error ? error : new Error(String(error)));
      } finally {
        if (sources.get(key) === source) sources.delete(key);
      }
    };
    let iterator: AsyncIterator<ExecutionResult> | undefined;
    const source: Source = {
      subscribers: new Set(),
      leave(subscriber) {
        if (!source.subscribers.delete(subscriber) || source.subscribers.size > 0) return;
        if (sources.get(key) === source) sources.delete(key);
        void iterator?.return?.();
      },
      started: (async () => {
        const result = await start(sharedOutlet);
        if (!(Symbol.asyncIterator in result)) {
          sources.delete(key);
          return result;
        }
        iterator = result[Symbol.asyncIterator]();
        void pump(iterator);
        return undefined;
      })(),
    };
    sources.set(key, source);
    return source;
  };

  return {
    async subscribe(key, send, start) {
      const source = sources.get(key) ?? open(key, start);
      const failure = await source.started;
      if (failure) return failure;
      const { iterator, end } = silentIterator(() => source.leave(subscriber));
      const subscriber: Subscriber = { send, end };
      if (source.ended) end(source.ended === true ? undefined : source.ended);
      else if (source.latest !== undefined && !send(source.latest)) end(tooSlow());
      else source.subscribers.add(subscriber);
      return iterator;
    },
  };
}
