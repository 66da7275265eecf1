// Token buckets per key (a user, a remote address): `burst` tokens, refilled at `perSecond`.
//
// Hand-written rather than rate-limiter-flexible: its memory limiter counts fixed windows (a client
// gets twice the rate across a window edge) and answers through a promise per call, while a bucket
// is a few lines of arithmetic done synchronously in the request's own turn.

export interface RateLimiter {
  /** Takes one token for `key`: 0 when granted, else the whole seconds until one is available. */
  take(key: string): number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Buckets kept before full ones are swept; a full bucket is the same as none. */
const SWEEP_AT = 10_000;

export function createRateLimiter(options: {
  perSecond: number;
  burst: number;
  now?: () => number;
}): RateLimiter {
  const { perSecond, burst, now = () => performance.now() } = options;
  const buckets = new Map<string, Bucket>();
  const refilled = (bucket: Bucket, at: number): number =>
    Math.min(burst, bucket.tokens + ((at - bucket.at) / 1000) * perSecond);

  const sweep = (at: number): void => {
    for (const [key, bucket] of buckets) if (refilled(bucket, at) >= burst) buckets.delete(key);
  };

  return {
    take(key) {
      const at = now();
      const bucket = buckets.get(key);
      const tokens = bucket ? refilled(bucket, at) : burst;
      if (tokens < 1) return Math.max(1, Math.ceil((1 - tokens) / perSecond));
      if (!bucket && buckets.size >= SWEEP_AT) sweep(at);
      buckets.set(key, { tokens: tokens - 1, at });
      return 0;
    },
  };
}
