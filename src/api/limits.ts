// Every limit the API enforces beyond CONTRACT §4's domain limits, with its default, in one place.
import { availableParallelism } from 'node:os';

export interface ApiLimits {
  /** Largest WebSocket message a client may send (ws closes the socket with 1009 beyond it). */
  maxPayloadBytes: number;
  /** How long a WebSocket may stay open without `connection_init` (closed with 4408). */
  connectionInitWaitMs: number;
  /** Subscription messages queued for one connection before it is cut off as too slow. */
  maxQueuedMessages: number;
  /** Bytes the ws socket may hold unsent before the connection is cut off as too slow. */
  maxBufferedBytes: number;
  /** Operations one WebSocket may run at once. */
  maxOperationsPerSocket: number;
  /** Operations one user may run at once over all their WebSockets. */
  maxOperationsPerUser: number;
  /** Operations anonymous WebSockets from one remote address may run at once, all together. */
  maxAnonymousOperationsPerAddress: number;
  /** WebSockets one remote address may hold open (a proxy in front makes every client one address). */
  maxConnectionsPerAddress: number;
  /** Mutations per second per user (token bucket) and the burst it allows; feeders and admins are exempt. */
  userMutationsPerSecond: number;
  userMutationBurst: number;
  /** The same for all mutations from one remote address, signed in or not. */
  addressMutationsPerSecond: number;
  addressMutationBurst: number;
  /** Query depth, aliases, tokens and directives per document (GraphQL Armor). */
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  maxDirectives: number;
  /** Largest `first` / `last` in a list query. */
  maxPageSize: number;
  /** Trades the `backtest` query reads at most, warm-up included (CONTRACT §4). */
  maxBacktestTrades: number;
  /** Alerts in one `backtest` query: anonymous callers, and callers with a token. */
  maxBacktestAlerts: number;
  maxBacktestAlertsWithToken: number;
  /** Triggers one `backtest` report holds; more is LIMIT_EXCEEDED naming `triggers`. */
  maxBacktestTriggers: number;
  /** Backtests running at once per client (a user with a token, else a remote address), and in all. */
  maxBacktestsPerClient: number;
  maxBacktestsRunning: number;
  /** Old-generation heap of each backtest's worker thread, in MiB. */
  maxBacktestHeapMb: number;
}

export const DEFAULT_LIMITS: ApiLimits = {
  maxPayloadBytes: 64 * 1024,
  connectionInitWaitMs: 3_000,
  maxQueuedMessages: 1_000,
  maxBufferedBytes: 1024 * 1024,
  maxOperationsPerSocket: 100,
  maxOperationsPerUser: 200,
  maxAnonymousOperationsPerAddress: 100,
  maxConnectionsPerAddress: 100,
  userMutationsPerSecond: 20,
  userMutationBurst: 40,
  addressMutationsPerSecond: 100,
  addressMutationBurst: 200,
  maxDepth: 30,
  maxAliases: 15,
  maxTokens: 2_000,
  maxDirectives: 10,
  maxPageSize: 1_000,
  maxBacktestTrades: 1_000_000,
  maxBacktestAlerts: 100,
  maxBacktestAlertsWithToken: 1_000,
  maxBacktestTriggers: 10_000,
  maxBacktestsPerClient: 2,
  maxBacktestsRunning: availableParallelism(),
  maxBacktestHeapMb: 512,
};
