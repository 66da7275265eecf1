// Watching a client's appends (for metrics): every append the port makes through the returned client is
// reported with its outcome, whoever makes it.
import { storeError, StoreConflict } from './errors.ts';
import type { StoreClient } from './store.ts';

export type AppendOutcome = 'written' | 'conflict' | 'failed';

/** Called as an append starts; the function it returns is called with the outcome once it ends. */
export type AppendWatcher = (stream: string) => (outcome: AppendOutcome) => void;

/** The same client, with `watch` told of every append made through it. */
export function watchAppends(client: StoreClient, watch: AppendWatcher): StoreClient {
  const append = async (stream: string, ...rest: unknown[]): Promise<unknown> => {
    const done = watch(stream);
    try {
      const result = await (client.appendToStream as (...args: unknown[]) => Promise<unknown>).call(
        client,
        stream,
        ...rest,
      );
      done('written');
      return result;
    } catch (error) {
      done(storeError(error) instanceof StoreConflict ? 'conflict' : 'failed');
      throw error;
    }
  };
  // Everything else is the client's own, called on the client itself (its internals use `this`).
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(client, {
    get(target, property) {
      if (property === 'appendToStream') return append;
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      if (!bound.has(property)) bound.set(property, value.bind(target));
      return bound.get(property);
    },
  });
}
