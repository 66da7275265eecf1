// A real API server on an ephemeral port over a real embedded node, plus HTTP and graphql-ws clients.
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { signToken, loadSecret } from '../../src/api/auth.ts';
import type { ApiLimits } from '../../src/api/limits.ts';
import { startApiServer, type ApiServer } from '../../src/api/server.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import type { Role } from '../../src/domain/types.ts';
import { createLogger } from '../../src/logger.ts';
import { createMetrics, type Metrics } from '../../src/metrics.ts';
import { startReactor, type Reactor, type ReactorOptions } from '../../src/runtime/reactor.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';

export interface Harness {
  config: Config;
  store: TestStore;
  reactor: Reactor;
  api: ApiServer;
  /** What `/metrics` serves; the reactor reports to it and the store client's appends are timed. */
  metrics: Metrics;
  url: string;
  wsUrl: string;
  token(userId: string, role?: Role, ttlSeconds?: number): Promise<string>;
  stop(): Promise<void>;
}

export async function startHarness(
  limits: Partial<ApiLimits> = {},
  reactorOptions: Partial<Pick<ReactorOptions, 'triggersPerUser'>> = {},
): Promise<Harness> {
  const store = await startTestStore();
  const config = loadConfig({
    PORT: '0',
    PRICEALERT_DATA_DIR: store.dataDir,
    PRICEALERT_FEED: 'none',
    PRICEALERT_WINDOWS: '1m,10m',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  });
  const logger = createLogger(config.LOG_LEVEL);
  const metrics = createMetrics();
  const client = metrics.timeAppends(store.client);
  const reactor = await startReactor({
    client,
    config,
    logger,
    observer: metrics.reactor,
    ...reactorOptions,
  });
  const api = await startApiServer({
    config,
    store: { client, connectionString: store.connectionString },
    reactor,
    logger,
    limits,
    metrics,
  });
  const secret = await loadSecret(config);
  return {
    config,
    store,
    reactor,
    api,
    metrics,
    url: api.url,
    wsUrl: api.url.replace(/^http/, 'ws'),
    token: (userId, role = 'user', ttlSeconds = 3600) => signToken(secret, { userId, role }, ttlSeconds),
    async stop() {
      await api.stop();
      await reactor.stop();
      await store.stop();
    },
  };
}

/** Responses are checked by assertions, so their data is loosely typed on purpose. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Data = Record<string, any>;

export interface GqlResponse<T = Record<string, unknown>> {
  status: number;
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string; field?: string } }[];
}

/** A GraphQL request over HTTP with fetch; `token` goes in the Authorization header. */
export async function gql<T = Data>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<GqlResponse<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, ...((await response.json()) as object) };
}

/** The codes of a response's errors, e.g. `['NOT_FOUND']`. */
export const codes = (response: GqlResponse): (string | undefined)[] =>
  (response.errors ?? []).map((error) => error.extensions?.code);

export interface WsConnection {
  client: Client;
  /** Resolves with the close code and reason once the socket closes. */
  closed: Promise<{ code: number; reason: string }>;
  dispose(): Promise<void>;
}

/** A graphql-ws client; the token goes in `connectionParams[key]` as `Bearer <token>`. */
export function connect(wsUrl: string, token?: string, key = 'authorization'): WsConnection {
  let onClosed: (event: { code: number; reason: string }) => void = () => {};
  const closed = new Promise<{ code: number; reason: string }>((resolve) => (onClosed = resolve));
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: token ? { [key]: `Bearer ${token}` } : {},
    on: { closed: (event) => onClosed(event as { code: number; reason: string }) },
    onNonLazyError: () => {},
  });
  // dispose() waits for the connection attempt, which never settles for a refused one: the close is enough.
  const dispose = async (): Promise<void> => {
    await Promise.race([Promise.resolve(client.dispose()).catch(() => {}), closed]);
  };
  return { client, closed, dispose };
}

/** A subscription whose results queue up until taken with `next()`. */
export interface Stream<T> {
  next(timeoutMs?: number): Promise<T>;
  /** Results received and not yet taken. */
  readonly pending: T[];
  /** The error the subscription ended with, if any. */
  readonly error: Promise<unknown>;
  stop(): void;
}

export function subscribe<T = Data>(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
): Stream<T> {
  const pending: T[] = [];
  const waiters: ((value: T) => void)[] = [];
  let fail: (error: unknown) => void = () => {};
  const error = new Promise<unknown>((resolve) => (fail = resolve));
  const stop = client.subscribe<T>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors) return fail(result.errors);
        const value = result.data as T;
        const waiter = waiters.shift();
        if (waiter) waiter(value);
        else pending.push(value);
      },
      error: (reason) => fail(reason),
      complete: () => {},
    },
  );
  return {
    pending,
    error,
    stop,
    next(timeoutMs = 10_000) {
      const queued = pending.shift();
      if (queued !== undefined) return Promise.resolve(queued);
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no subscription result within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push((value) => {
          clearTimeout(timer);
          resolve(value);
        });
      });
    },
  };
}

/**
 * Resolves once the server has answered a query sent on this connection after the subscriptions
 * before it; registering a subscription involves no I/O, so by then they are all live.
 */
export async function settled(client: Client): Promise<void> {
  for await (const _ of client.iterate({ query: '{ products }' })) break;
}

/** Polls `check` until it returns something other than undefined (read models catch up asynchronously). */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
