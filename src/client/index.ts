// pricealert/client: a small typed client on the stock graphql-ws client (its retries on), whose
// alertTriggered() resumes by itself. graphql-ws re-sends a subscription's payload object after
// every reconnect (server restart, dropped network, a slow-client close); this client keeps that
// payload's `after` at the cursor of the last trigger handed to the caller, so the server sends
// exactly the triggers after it: each once, in firing order, without resume code in the caller.
import { createClient, type Client, type ClientOptions, type FormattedExecutionResult } from 'graphql-ws';

export interface PriceAlertClientOptions {
  /** The server's GraphQL address: `ws://host:4000/graphql` (`http(s)://` is turned into `ws(s)://`). */
  url: string;
  /** A bearer token, or a function giving one, called on every (re)connect so a renewed token is used. */
  token?: string | (() => string | Promise<string>);
  /** A WebSocket implementation where there is no global one (Node 20: `import WebSocket from 'ws'`). */
  webSocketImpl?: unknown;
  /**
   * Options for graphql-ws's createClient, passed through (retryAttempts, retryWait, on, …), over
   * these defaults: retry every failed connection, not only closed ones (graphql-ws on its own gives up
   * at once when the server refuses the connection, as it does while restarting), up to 10 times in a
   * row, waiting 1, 2, 4 … up to 10 s between tries, plus up to a second of jitter. The count starts
   * afresh after every successful connection.
   */
  graphqlWs?: Partial<ClientOptions>;
}

export interface Trade {
  product: string;
  tradeId: string;
  price: string;
  size: string;
  side: string;
  time: string;
}

export interface Alert {
  id: string;
  product: string;
  condition: 'LEVEL' | 'CROSS' | 'MOVE' | 'ENTER' | 'EXIT';
  /** Null for ENTER and EXIT. */
  direction: 'ABOVE' | 'BELOW' | null;
  /** Null but for LEVEL and CROSS. */
  threshold: string | null;
  /** MOVE only. */
  percent: string | null;
  /** ENTER and EXIT only. */
  low: string | null;
  high: string | null;
  cooldown: string | null;
  measure: 'LAST' | 'MEAN' | 'VWAP';
  window: string;
  repeat: boolean;
  status: 'ACTIVE' | 'TRIGGERED' | 'CANCELLED' | 'EXPIRED';
  armed: boolean;
  triggerCount: number;
  lastTriggeredAt: string | null;
  note: string | null;
}

export interface AlertTrigger {
  /** Opaque; pass as `after` to resume after this trigger (e.g. after the caller restarts). */
  cursor: string;
  value: string;
  triggeredAt: string;
  alert: Alert;
  trade: Trade;
}

export interface Price {
  product: string;
  window: string;
  last: string;
  mean: string;
  vwap: string;
  high: string;
  low: string;
  count: number;
  volume: string;
  time: string;
}

/** An error the server answered with: its message and `extensions.code` (e.g. BAD_USER_INPUT). */
export class PriceAlertError extends Error {
  readonly code: string | undefined;
  constructor(errors: readonly { message: string; extensions?: { code?: unknown } }[]) {
    super(errors.map((error) => error.message).join('; '));
    this.name = 'PriceAlertError';
    const code = errors[0]?.extensions?.code;
    this.code = typeof code === 'string' ? code : undefined;
  }
}

export interface TriggerStream extends AsyncIterableIterator<AlertTrigger> {
  /** The cursor of the last trigger handed out (or the `after` it started from). */
  readonly cursor: string | null;
}

export interface PriceAlertClient {
  /**
   * The caller's triggers: with `after`, every trigger after that cursor first, then live ones; it
   * resumes from the last trigger handed out after every reconnect. Ends only when the caller stops
   * (`break`/`return()`), or with an error the server gives (a bad cursor) or once graphql-ws gives up
   * reconnecting.
   */
  alertTriggered(options?: { after?: string | null }): TriggerStream;
  /** The figures of one window of a product, now and after every trade. */
  price(product: string, window?: string): AsyncIterableIterator<Price>;
  /** A query or mutation over the same connection. */
  request<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<T>;
  /** The underlying graphql-ws client, for anything else. */
  readonly graphql: Client;
  dispose(): Promise<void>;
}

const TRIGGER_FIELDS = `cursor value triggeredAt
  alert { id product condition direction threshold percent low high cooldown measure window repeat status armed triggerCount lastTriggeredAt note }
  trade { product tradeId price size side time }`;
const TRIGGERED = `subscription PriceAlertTriggers($after: String) { alertTriggered(after: $after) { ${TRIGGER_FIELDS} } }`;
const PRICE = `subscription PriceAlertPrice($product: String!, $window: String) {
  price(product: $product, window: $window) { product window last mean vwap high low count volume time }
}`;
/** How long to wait before subscribing again when the server was not ready in time (UNAVAILABLE). */
const UNAVAILABLE_RETRY_MS = 1_000;

const RETRY_ATTEMPTS = 10;
const RETRY_MAX_MS = 10_000;
const retryWait = (retries: number): Promise<void> =>
  new Promise((resolve) =>
    setTimeout(resolve, Math.min(RETRY_MAX_MS, 1000 * 2 ** retries) + Math.random() * 1000),
  );

const toWebSocketUrl = (url: string): string => url.replace(/^http(s?):\/\//, 'ws$1://');

/**
 * The results of one graphql-ws subscription as an async iterator over `pick(data)`; `payload` is
 * the object graphql-ws sends, again after every reconnect.
 */
function iterate<T>(
  client: Client,
  payload: { query: string; variables: Record<string, unknown> },
  pick: (data: Record<string, unknown>) => T,
): AsyncIterableIterator<T> {
  const queue: T[] = [];
  let wake: (() => void) | undefined;
  let failure: unknown;
  let done = false;
  const stop = client.subscribe<Record<string, unknown>>(payload, {
    next(result: FormattedExecutionResult<Record<string, unknown>>) {
      if (result.errors?.length) failure = new PriceAlertError(result.errors);
      else if (result.data) queue.push(pick(result.data));
      wake?.();
    },
    error(error) {
      failure = Array.isArray(error) ? new PriceAlertError(error) : error;
      done = true;
      wake?.();
    },
    complete() {
      done = true;
      wake?.();
    },
  });
  const iterator: AsyncIterableIterator<T> = {
    async next() {
      for (;;) {
        if (queue.length > 0) return { value: queue.shift()!, done: false };
        if (failure) {
          const error = failure;
          failure = undefined;
          done = true;
          stop();
          throw error;
        }
        if (done) return { value: undefined, done: true };
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    },
    async return() {
      done = true;
      stop();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

export function createPriceAlertClient(options: PriceAlertClientOptions): PriceAlertClient {
  const { token } = options;
  const graphql = createClient({
    url: toWebSocketUrl(options.url),
    ...(options.webSocketImpl ? { webSocketImpl: options.webSocketImpl } : {}),
    connectionParams: async () =>
      token === undefined
        ? {}
        : { authorization: `Bearer ${typeof token === 'function' ? await token() : token}` },
    shouldRetry: () => true,
    retryAttempts: RETRY_ATTEMPTS,
    retryWait,
    ...options.graphqlWs,
  });

  function alertTriggered({ after = null }: { after?: string | null } = {}): TriggerStream {
    const payload = { query: TRIGGERED, variables: { after } as { after: string | null } };
    let inner = iterate(graphql, payload, (data) => data.alertTriggered as AlertTrigger);
    let stopped = false;
    const stream: TriggerStream = {
      get cursor() {
        return payload.variables.after;
      },
      async next() {
        for (;;) {
          try {
            const result = await inner.next();
            // The payload graphql-ws will send on its next reconnect resumes after this trigger.
            if (!result.done) payload.variables = { after: result.value.cursor };
            return result;
          } catch (error) {
            // The server restarted and was not ready within its bound: subscribe again, from here.
            if (stopped || !(error instanceof PriceAlertError) || error.code !== 'UNAVAILABLE') throw error;
            await new Promise((resolve) => setTimeout(resolve, UNAVAILABLE_RETRY_MS));
            inner = iterate(graphql, payload, (data) => data.alertTriggered as AlertTrigger);
          }
        }
      },
      async return() {
        stopped = true;
        await inner.return?.();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return stream;
      },
    };
    return stream;
  }

  return {
    graphql,
    alertTriggered,
    price: (product, window) =>
      iterate(graphql, { query: PRICE, variables: { product, window } }, (data) => data.price as Price),
    async request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
      const results = iterate(graphql, { query, variables }, (data) => data as T);
      try {
        const result = await results.next();
        if (result.done) throw new Error('the server completed the request without a result');
        return result.value;
      } finally {
        await results.return?.();
      }
    },
    dispose: async () => {
      await graphql.dispose();
    },
  };
}
