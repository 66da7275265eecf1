// The node's limits and timeouts, named after EventStoreDB's options: each is an `EVENTSTORE_*`
// environment variable and a `pricealert store --kebab-case` flag (flags win), with EventStoreDB's
// default where it has the same option.
import type { IdempotencyMode } from './idempotency.ts';

export interface NodeLimits {
  /** Bytes of data and metadata one append may carry (EventStoreDB's MaxAppendSize). */
  readonly maxAppendSize: number;
  /** Events a catch-up read takes from SQLite at a time, at most. */
  readonly readPageSize: number;
  /** Bytes that may wait unsent to one reader or subscriber before the node stops reading for it. */
  readonly subscriptionBufferSize: number;
  /** A connection must send HTTP/2's preface within this long, or it is closed. */
  readonly handshakeTimeoutMs: number;
  /** A connection with no call open for this long is closed (GOAWAY); clients reconnect on demand. */
  readonly connectionIdleTimeoutMs: number;
  /** The node pings a connection this long after its last frame (EventStoreDB's KeepAliveInterval). */
  readonly keepAliveIntervalMs: number;
  /** and closes it if the ping is not answered within this long (KeepAliveTimeout). */
  readonly keepAliveTimeoutMs: number;
  /** `full`: a replayed append is recognised against the whole stream. `recent`: as EventStoreDB does
   *  (idempotency.ts), so that tests show what holds on a real cluster. */
  readonly idempotency: IdempotencyMode;
  /** In `recent` mode, the event ids of recent commits remembered for expected revision ANY
   *  (EventStoreDB's 8 MiB cache holds roughly 100,000). */
  readonly idempotencyCacheSize: number;
}

export const DEFAULT_LIMITS: NodeLimits = {
  maxAppendSize: 1_048_576,
  readPageSize: 512,
  subscriptionBufferSize: 1_048_576,
  handshakeTimeoutMs: 5_000,
  connectionIdleTimeoutMs: 60_000,
  keepAliveIntervalMs: 10_000,
  keepAliveTimeoutMs: 10_000,
  idempotency: 'full',
  idempotencyCacheSize: 100_000,
};

/** One option: its flag, its environment variable, and the smallest value that makes sense. */
export interface LimitOption {
  readonly key: keyof NodeLimits;
  readonly flag: string;
  readonly env: string;
  readonly min: number;
  readonly description: string;
  /** The words it takes, for an option that is not a number. */
  readonly choices?: readonly string[];
}

export const LIMIT_OPTIONS: readonly LimitOption[] = [
  {
    key: 'maxAppendSize',
    flag: 'max-append-size',
    env: 'EVENTSTORE_MAX_APPEND_SIZE',
    min: 1,
    description: 'bytes of data and metadata one append may carry',
  },
  {
    key: 'readPageSize',
    flag: 'read-page-size',
    env: 'EVENTSTORE_READ_PAGE_SIZE',
    min: 1,
    description: 'events a catch-up read takes from the log at a time',
  },
  {
    key: 'subscriptionBufferSize',
    flag: 'subscription-buffer-size',
    env: 'EVENTSTORE_SUBSCRIPTION_BUFFER_SIZE',
    min: 1024,
    description: 'bytes that may wait unsent to one reader or subscriber',
  },
  {
    key: 'handshakeTimeoutMs',
    flag: 'handshake-timeout',
    env: 'EVENTSTORE_HANDSHAKE_TIMEOUT',
    min: 1,
    description: 'ms a new connection has to send the HTTP/2 preface',
  },
  {
    key: 'connectionIdleTimeoutMs',
    flag: 'connection-idle-timeout',
    env: 'EVENTSTORE_CONNECTION_IDLE_TIMEOUT',
    min: 1,
    description: 'ms a connection with no open call is kept',
  },
  {
    key: 'keepAliveIntervalMs',
    flag: 'keep-alive-interval',
    env: 'EVENTSTORE_KEEP_ALIVE_INTERVAL',
    min: 1,
    description: 'ms of silence after which the node pings a connection',
  },
  {
    key: 'keepAliveTimeoutMs',
    flag: 'keep-alive-timeout',
    env: 'EVENTSTORE_KEEP_ALIVE_TIMEOUT',
    min: 1,
    description: 'ms the node waits for a ping answer before closing the connection',
  },
  {
    key: 'idempotency',
    flag: 'idempotency',
    env: 'EVENTSTORE_IDEMPOTENCY',
    min: 0,
    choices: ['full', 'recent'],
    description: 'full: replays recognised against whole streams; recent: as EventStoreDB (recent ids only)',
  },
  {
    key: 'idempotencyCacheSize',
    flag: 'idempotency-cache-size',
    env: 'EVENTSTORE_IDEMPOTENCY_CACHE_SIZE',
    min: 1,
    description: 'event ids of recent commits remembered for expected revision ANY (recent mode)',
  },
];

export class LimitError extends Error {
  readonly code = 'LIMIT';
}

function parseLimit(option: LimitOption, text: string, source: string): number | string {
  if (option.choices) {
    if (!option.choices.includes(text))
      throw new LimitError(`${source}: expected one of ${option.choices.join(', ')}, got ${text}`);
    return text;
  }
  const value = Number(text);
  if (text.trim() === '' || !Number.isSafeInteger(value) || value < option.min)
    throw new LimitError(`${source}: expected a whole number of at least ${option.min}, got ${text}`);
  return value;
}

/** The limits from `EVENTSTORE_*` variables, then from flags (by option key), over the defaults. */
export function resolveLimits(
  env: NodeJS.ProcessEnv,
  flags: Partial<Record<keyof NodeLimits, string>> = {},
): NodeLimits {
  const limits: Record<keyof NodeLimits, number | string> = { ...DEFAULT_LIMITS };
  for (const option of LIMIT_OPTIONS) {
    const fromEnv = env[option.env];
    if (fromEnv !== undefined && fromEnv !== '') limits[option.key] = parseLimit(option, fromEnv, option.env);
    const fromFlag = flags[option.key];
    if (fromFlag !== undefined) limits[option.key] = parseLimit(option, fromFlag, `--${option.flag}`);
  }
  return limits as unknown as NodeLimits;
}

/** The flags' values by option key; `read` looks one up by its flag name (`max-append-size`). */
export function limitFlags(read: (flag: string) => unknown): Partial<Record<keyof NodeLimits, string>> {
  const flags: Partial<Record<keyof NodeLimits, string>> = {};
  for (const option of LIMIT_OPTIONS) {
    const value = read(option.flag);
    if (typeof value === 'string') flags[option.key] = value;
  }
  return flags;
}

/** The limits as the forked node's command-line arguments. */
export function limitArgs(limits: Partial<NodeLimits>): string[] {
  return LIMIT_OPTIONS.flatMap((option) => {
    const value = limits[option.key];
    return value === undefined ? [] : [`--${option.flag}`, String(value)];
  });
}
