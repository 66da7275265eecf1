// A simulated market for demos and benchmarks: per product a geometric Brownian motion sampled at bursty
// trade arrivals. The tape is a pure function of (seed, products, rate, start); the live feed plays it
// against the wall clock.
import { formatMicros } from '../domain/time.ts';
import type { TradeInput } from '../domain/types.ts';
import type { Logger } from '../logger.ts';
import { createTradeWriter, type RecordTrades, type WriterStats } from './writer.ts';

const SIMULATED_SOURCE = 'simulated';

export interface TapeOptions {
  seed: number;
  products: readonly string[];
  /** Mean trades per second per product. */
  ratePerSecond: number;
  /** Wall-clock ms of the tape's start; trade times and ids count from it. */
  startMs: number;
  /** Annualised volatility of the random walk. Default 0.8 (a calm day for crypto). */
  volatility?: number;
}

export interface TapeTrade {
  /** Trade time in ms since the epoch (fractional: times carry microseconds). */
  atMs: number;
  trade: TradeInput;
}

/** Starting prices for the usual products; anything else starts at 100. */
const START_PRICE: Record<string, number> = {
  BTC: 60_000,
  ETH: 3_000,
  SOL: 150,
  LTC: 80,
  DOGE: 0.15,
  XRP: 0.6,
};
const MS_PER_YEAR = 365.25 * 24 * 3600 * 1000;
/** Trades come in clusters (a market order eating several resting orders, algos reacting together). */
const MEAN_BURST = 4;
/** Burst sizes are geometric (1, 2, 3, … with mean MEAN_BURST): floor of an exponential with this mean, plus one. */
const BURST_EXTRA_MEAN = -1 / Math.log(1 - 1 / MEAN_BURST);
const MAX_GAP_IN_BURST_MS = 3;
/** Typical trade notional in the quote currency; sizes are log-normal around it. */
const MEDIAN_NOTIONAL = 250;

/** mulberry32: a small, fast, well-mixed 32-bit generator; same seed, same sequence. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function normal(random: () => number): number {
  const u = 1 - random(); // (0, 1]: log(0) would be -Infinity
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

const exponential = (random: () => number, mean: number): number => -Math.log(1 - random()) * mean;

interface ProductWalk {
  product: string;
  random: () => number;
  price: number;
  lastMs: number;
  nextMs: number;
  burstLeft: number;
  count: number;
}

/**
 * An endless tape, in time order across products. Trade ids are numeric and grow with the start time
 * (start seconds × 10^6 + n), so a later run never reuses an earlier run's ids.
 */
export function* simulateTape(options: TapeOptions): Generator<TapeTrade> {
  const { seed, products, ratePerSecond, startMs } = options;
  const sigma = options.volatility ?? 0.8;
  // Within a burst trades are milliseconds apart (less at high rates); the gaps between bursts make up
  // the rest, so that the mean rate is the one asked for.
  const meanTradeGapMs = 1000 / ratePerSecond;
  const meanGapInBurstMs = Math.min(MAX_GAP_IN_BURST_MS, meanTradeGapMs / 10);
  const meanClusterGapMs = MEAN_BURST * meanTradeGapMs - (MEAN_BURST - 1) * meanGapInBurstMs;
  const idBase = Math.floor(startMs / 1000) * 1_000_000;
  const walks: ProductWalk[] = products.map((product, index) => {
    // Each product gets its own stream so adding a product does not change the others' tapes.
    const random = seededRandom((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
    const base = product.split('-')[0] ?? product;
    return {
      product,
      random,
      price: START_PRICE[base] ?? 100,
      lastMs: startMs,
      nextMs: startMs + exponential(random, meanClusterGapMs),
      burstLeft: 0,
      count: 0,
    };
  });
  for (;;) {
    let walk = walks[0]!;
    for (const candidate of walks) if (candidate.nextMs < walk.nextMs) walk = candidate;
    const { random } = walk;
    const atMs = walk.nextMs;
    const dtYears = (atMs - walk.lastMs) / MS_PER_YEAR;
    walk.price *= Math.exp(-0.5 * sigma * sigma * dtYears + sigma * Math.sqrt(dtYears) * normal(random));
    walk.lastMs = atMs;
    walk.count += 1;
    const price = Math.max(0.01, Math.round(walk.price * 100) / 100);
    const size = Math.max(1e-8, (MEDIAN_NOTIONAL * Math.exp(1.2 * normal(random))) / price);
    yield {
      atMs,
      trade: {
        product: walk.product,
        tradeId: String(idBase + walk.count),
        price: price.toFixed(2),
        size: size.toFixed(8),
        side: random() < 0.5 ? 'buy' : 'sell',
        time: formatMicros(Math.round(atMs * 1000)),
        source: SIMULATED_SOURCE,
      },
    };
    if (walk.burstLeft === 0) walk.burstLeft = Math.floor(exponential(random, BURST_EXTRA_MEAN)) + 1;
    walk.burstLeft -= 1;
    const gap =
      walk.burstLeft > 0 ? exponential(random, meanGapInBurstMs) : exponential(random, meanClusterGapMs);
    walk.nextMs = atMs + Math.max(0.001, gap);
  }
}

export interface SimulatedFeedOptions {
  seed: number;
  products: readonly string[];
  ratePerSecond: number;
  record: RecordTrades;
  logger: Logger;
  now?: () => number;
}

export interface SimulatedFeed {
  stop(): Promise<void>;
  stats(): { trades: number; writer: WriterStats };
}

/** Plays the tape in real time from now; a slow store holds the tape back rather than piling trades up. */
export function startSimulatedFeed(options: SimulatedFeedOptions): SimulatedFeed {
  const now = options.now ?? Date.now;
  const writer = createTradeWriter({ record: options.record, logger: options.logger });
  const tape = simulateTape({ ...options, startMs: now() });
  let stopped = false;
  let trades = 0;
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const nap = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      wake = resolve;
      timer = setTimeout(resolve, ms);
    });

  async function play(): Promise<void> {
    let next = tape.next().value as TapeTrade;
    while (!stopped) {
      const wait = next.atMs - now();
      if (wait > 0) await nap(Math.min(wait, 1_000));
      while (!stopped && next.atMs <= now()) {
        trades += 1;
        const more = writer.push(next.trade);
        next = tape.next().value as TapeTrade;
        if (!more) await writer.drained();
      }
    }
  }

  options.logger.info(
    { seed: options.seed, ratePerSecond: options.ratePerSecond, products: options.products },
    'simulated feed started',
  );
  const playing = play();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      wake?.();
      // Close first: the player may be waiting for a drain that only closing brings when the store is down.
      const closing = writer.close();
      await playing;
      await closing;
    },
    stats: () => ({ trades, writer: writer.stats() }),
  };
}
