// Broadcast subscriptions — those whose results are the same for every subscriber (`price`) — are
// executed once per distinct document and variables, and each result goes to every subscriber of it.
//
// With thousands of clients on one product's price, executing the selection per client per trade is
// most of the cost of a broadcast. Here the first subscriber starts the one shared execution; later
// ones join it and get its latest result at once, which for `price` is the current figures, exactly
// what a fresh execution would have sent first. Each subscriber still has its own bounded channel
// on its own outlet, so a slow one is cut off alone.
import { Kind, getOperationAST, type DocumentNode, type ExecutionResult } from 'graphql';
import { createChannel, type Channel, type Outlet } from './channel.ts';

/** Root fields of Subscription whose results depend only on their arguments, never on the caller. */
const BROADCAST_FIELDS = new Set(['price']);

/** An outlet that never cuts off: the shared execution is drained at once by its own pump. */
const sharedOutlet: Outlet = { queued: 0, closed: false, overloaded: () => false, cutOff: () => {} };

/** Whether every root field of the operation is a broadcast field (fragments at the root are not shared). */
export function isBroadcast(document: DocumentNode, operationName: string | null | undefined): boolean {
  const operation = getOperationAST(document, operationName);
  if (operation?.operation !== 'subscription') return false;
  return operation.selectionSet.selections.every(
    (selection) => selection.kind === Kind.FIELD && BROADCAST_FIELDS.has(selection.name.value),
  );
}

type Subscribed = AsyncIterable<ExecutionResult> | ExecutionResult;

interface Source {
  started: Promise<ExecutionResult | undefined>;
  listeners: Set<Channel<ExecutionResult>>;
  latest?: ExecutionResult;
  stop(): void;
}

export interface Broadcasts {
  /**
   * Joins the shared execution for `key`, starting it with `start(sharedOutlet)` if there is none.
   * Returns the subscriber's own stream of results, or the start's error result.
   */
  subscribe(
    key: string,
    outlet: Outlet,
    start: (outlet: Outlet) => Promise<Subscribed> | Subscribed,
  ): Promise<Subscribed>;
}

export function createBroadcasts(): Broadcasts {
  const sources = new Map<string, Source>();

  const open = (key: string, start: (outlet: Outlet) => Promise<Subscribed> | Subscribed): Source => {
    const pump = async (results: AsyncIterator<ExecutionResult>): Promise<void> => {
      try {
        for (let next = await results.next(); !next.done; next = await results.next()) {
          source.latest = next.value;
          for (const listener of source.listeners) listener.push(next.value);
        }
        for (const listener of source.listeners) listener.end();
      } catch (error) {
        for (const listener of source.listeners)
          listener.end(error instanceof Error ? error : new Error(String(error)));
      } finally {
        if (sources.get(key) === source) sources.delete(key);
      }
    };
    let iterator: AsyncIterator<ExecutionResult> | undefined;
    const source: Source = {
      listeners: new Set(),
      stop: () => void iterator?.return?.(),
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
    async subscribe(key, outlet, start) {
      const source = sources.get(key) ?? open(key, start);
      const failure = await source.started;
      if (failure) return failure;
      const channel: Channel<ExecutionResult> = createChannel(outlet, () => {
        source.listeners.delete(channel);
        if (source.listeners.size > 0) return;
        if (sources.get(key) === source) sources.delete(key);
        source.stop();
      });
      source.listeners.add(channel);
      if (source.latest) channel.push(source.latest);
      return channel;
    },
  };
}
