// Configuration from environment variables and command-line flags, validated once (CONTRACT §1).
import { z } from 'zod';

export class ConfigError extends Error {
  readonly code = 'CONFIG';
}

const WINDOW_PATTERN = /^(\d+)(s|m|h|d)$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Parses a window name such as `10m` into milliseconds; `undefined` when it is not one. */
export function windowMillis(name: string): number | undefined {
  const match = WINDOW_PATTERN.exec(name);
  if (!match) return undefined;
  const amount = Number(match[1]);
  if (!Number.isSafeInteger(amount) || amount <= 0) return undefined;
  return amount * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

const list = (what: string, item: z.ZodType<string, string>) =>
  z
    .string()
    .transform((raw) =>
      raw
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part.length > 0),
    )
    .pipe(z.array(item).min(1, `${what} must name at least one`));

const port = z.coerce
  .number({ error: 'must be a port number from 0 to 65535' })
  .int('must be a port number from 0 to 65535')
  .min(0, 'must be a port number from 0 to 65535')
  .max(65_535, 'must be a port number from 0 to 65535');

/** `<per second>,<burst>`: a token bucket's refill rate and size. */
const rate = z
  .string()
  .regex(/^\d+(\.\d+)?,\d+$/, 'must be <per second>,<burst>, e.g. 20,40')
  .transform((raw) => raw.split(',').map(Number) as [number, number])
  .refine(
    ([perSecond, burst]) => perSecond > 0 && burst >= 1,
    'needs a rate above 0 and a burst of at least 1',
  );

/** The parts `serve` can run; `all` names every one. */
export const ROLES = ['api', 'reactor', 'feed'] as const;
export type Role = (typeof ROLES)[number];

const DURATION_PATTERN = /^(\d+)(ms|s|m|h|d)$/;

/** Parses a duration such as `250ms`, `5s` or `24h` into milliseconds; `undefined` when it is not one. */
export function durationMillis(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text.trim());
  if (!match) return undefined;
  const amount = Number(match[1]);
  if (!Number.isSafeInteger(amount) || amount <= 0) return undefined;
  return match[2] === 'ms' ? amount : amount * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

const duration = z
  .string()
  .refine((text) => durationMillis(text) !== undefined, 'must be a duration such as 250ms, 5s, 10m or 24h')
  .transform((text) => durationMillis(text)!);

/** `<first>,<max>,<for>`: webhook retries start `first` apart, double up to `max`, and give up after `for`. */
const retrySchedule = z
  .string()
  .transform((raw) => raw.split(',').map((part) => durationMillis(part)))
  .refine(
    (parts): parts is [number, number, number] =>
      parts.length === 3 && parts.every((part) => part !== undefined) && parts[0]! <= parts[1]!,
    'must be <first>,<max>,<give up after>, e.g. 5s,1h,24h',
  )
  .transform(([firstMs, maxMs, giveUpMs]) => ({ firstMs, maxMs, giveUpMs }));

export const configSchema = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: port.default(4000),
  PRICEALERT_DATA_DIR: z.string().min(1).default('./data'),
  EVENTSTORE_URL: z
    .string()
    // Only the schemes @eventstore/db-client 6.x parses; kurrentdb:// needs the KurrentDB client.
    .regex(
      /^esdb(\+discover)?:\/\//,
      'must start with esdb:// or esdb+discover:// (the schemes this client supports)',
    )
    .optional(),
  PRICEALERT_PRODUCTS: list(
    'PRICEALERT_PRODUCTS',
    z.string().regex(/^[A-Z0-9]+-[A-Z0-9]+$/, 'products look like BTC-USD'),
  ).default(['BTC-USD', 'ETH-USD']),
  PRICEALERT_WINDOWS: list(
    'PRICEALERT_WINDOWS',
    z.string().refine((name) => windowMillis(name) !== undefined, 'windows look like 30s, 10m, 1h or 7d'),
  ).default(['1m', '10m', '1h', '24h']),
  // Which parts `serve` runs; `all` keeps them in one process deciding every product, without leases.
  PRICEALERT_ROLE: list(
    'PRICEALERT_ROLE',
    z.enum(['all', ...ROLES], {
      error: (issue) => `"${String(issue.input)}" is not a role; roles are ${ROLES.join(', ')} or all`,
    }),
  ).default(['all']),
  PRICEALERT_FEED: z.enum(['coinbase', 'simulated', 'none']).default('coinbase'),
  COINBASE_WS_URL: z.string().url().default('wss://ws-feed.exchange.coinbase.com'),
  PRICEALERT_JWT_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  // Mutation rate limits; unset means the defaults in src/api/limits.ts.
  PRICEALERT_USER_RATE: rate.optional(),
  PRICEALERT_ADDR_RATE: rate.optional(),
  // WebSockets one remote address may hold open; raise it behind a proxy or load balancer.
  PRICEALERT_ADDR_CONNECTIONS: z.coerce
    .number()
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .optional(),
  // Webhooks: delivery to loopback/private/link-local targets (local development and tests only).
  PRICEALERT_WEBHOOK_ALLOW_PRIVATE: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .transform((flag) => flag === 'true')
    .default(false),
  PRICEALERT_WEBHOOKS_PER_USER: z.coerce
    .number()
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .default(10),
  PRICEALERT_WEBHOOK_RETRY: retrySchedule.default({ firstMs: 5_000, maxMs: 3_600_000, giveUpMs: 86_400_000 }),
  PRICEALERT_WEBHOOK_TIMEOUT: duration.default(5_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = z.infer<typeof configSchema>;

/**
 * Validates the environment merged with flag overrides (flags win). Empty strings count as unset, so
 * `EVENTSTORE_URL=` in a shell does not select a cluster.
 */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  overrides: Partial<Record<keyof Config, string | number | undefined>> = {},
): Config {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = overrides[key as keyof Config] ?? env[key];
    if (value !== undefined && value !== '') raw[key] = typeof value === 'number' ? String(value) : value;
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join('.') || 'configuration';
    throw new ConfigError(`${where}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}
