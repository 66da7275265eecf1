// averagePrice: per product and window, last/mean/VWAP/high/low/count/volume by trade time (CONTRACT §3).
//
// Pure fold: initialState(windows), evolve(state, trade). For speed the state is mutated in place and
// returned; nothing here reads a clock or does I/O.
//
// Layout. Each product keeps ONE store of the trades inside its largest sliding window, sorted by
// (time, order applied), as three columns of 8-byte values: time in µs, price and size as integers
// scaled to the product's decimal places so far. Every sliding window is a start index into that
// store plus exact running sums (Σprice, Σsize, Σprice·size as BigInt) and two monotonic deques of
// store indices for high and low. `all` keeps only sums and extremes. Scaled-integer sums are
// exactly the decimal sums (a sum of integers scaled by 10^k is the decimal sum scaled by 10^k); when
// a trade with more decimals arrives, stored values and sums are multiplied up once.
//
// Windows. The newest time applied is T. Window w holds the applied trades with time in (T − w, T];
// a later trade with the same time as T joins when applied (so it is not in the window before).
//
// Late trades (time < T, e.g. an import of recent history while the feed runs): a late trade counts
// in exactly the windows whose current span (T − w, T] contains its time, and always in `all`; it
// never becomes LAST and does not move T. It is inserted into the store at its time (after equal
// times); those windows' sums and deques take it in without a rescan. A late trade older than every
// sliding window only touches `all`. Cost: shifting the store's newer part by one slot.
import { windowMillis } from '../src/config.ts';
import { formatRatio, formatScaled, parseScaled, pow10, type Scaled } from '../src/domain/decimal.ts';
import type { TradeRecorded } from '../src/domain/events.ts';
import type { Ratio } from '../src/domain/crossing.ts';
import { formatMicros, timeMicros } from '../src/domain/time.ts';
import { ALL_WINDOW, type Measure } from '../src/domain/types.ts';
import { IndexDeque, UnitsColumn } from './columns.ts';

/** What the API's `Price` shows for one product and window. */
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

interface Sums {
  sumPrice: bigint;
  sumSize: bigint;
  sumNotional: bigint;
  count: number;
}

interface SlidingWindow extends Sums {
  micros: number;
  /** Store index of the window's oldest trade. */
  start: number;
  highs: IndexDeque;
  lows: IndexDeque;
}

interface AllWindow extends Sums {
  high: bigint;
  low: bigint;
  /** The oldest trade by time (of equal times the first applied): a MOVE alert's p0 over `all`. */
  firstPrice: bigint;
  firstTime: number;
}

export interface ProductPrices {
  product: string;
  priceScale: number;
  sizeScale: number;
  /** Newest trade by (time, order applied). */
  lastPrice: bigint;
  lastTime: number;
  times: Float64Array;
  prices: UnitsColumn;
  sizes: UnitsColumn;
  head: number;
  tail: number;
  sliding: SlidingWindow[];
  all: AllWindow;
}

export interface AveragePriceState {
  /** Sliding window names in configuration order; index `windowNames.length` is `all`. */
  windowNames: readonly string[];
  windowMicros: readonly number[];
  products: Map<string, ProductPrices>;
}

export function initialState(windows: readonly string[]): AveragePriceState {
  const sliding = [...new Set(windows.filter((name) => name !== ALL_WINDOW))];
  const windowMicros = sliding.map((name) => {
    const millis = windowMillis(name);
    if (millis === undefined) throw new Error(`not a window: ${name}`);
    return millis * 1000;
  });
  return { windowNames: sliding, windowMicros, products: new Map() };
}

/** Index of a window by name (`all` included), or -1. */
export function windowIndex(state: AveragePriceState, name: string): number {
  return name === ALL_WINDOW ? state.windowNames.length : state.windowNames.indexOf(name);
}

const INITIAL_CAPACITY = 1024;

function newProduct(state: AveragePriceState, product: string, price: Scaled, size: Scaled): ProductPrices {
  const sums = (): Sums => ({ sumPrice: 0n, sumSize: 0n, sumNotional: 0n, count: 0 });
  return {
    product,
    priceScale: price.scale,
    sizeScale: size.scale,
    lastPrice: 0n,
    lastTime: Number.NEGATIVE_INFINITY,
    times: new Float64Array(INITIAL_CAPACITY),
    prices: new UnitsColumn(INITIAL_CAPACITY),
    sizes: new UnitsColumn(INITIAL_CAPACITY),
    head: 0,
    tail: 0,
    sliding: state.windowMicros.map((micros) => ({
      ...sums(),
      micros,
      start: 0,
      highs: new IndexDeque(),
      lows: new IndexDeque(),
    })),
    all: { ...sums(), high: 0n, low: 0n, firstPrice: 0n, firstTime: Number.POSITIVE_INFINITY },
  };
}

/** Applies one recorded trade. Malformed numbers or times (which the event schema already rejects) are ignored. */
export function evolve(state: AveragePriceState, trade: TradeRecorded): AveragePriceState {
  const price = parseScaled(trade.price);
  const size = parseScaled(trade.size);
  const time = timeMicros(trade.time);
  if (!price || !size || time === undefined) return state;
  let book = state.products.get(trade.product);
  if (!book) {
    book = newProduct(state, trade.product, price, size);
    state.products.set(trade.product, book);
  }
  if (price.scale > book.priceScale) rescalePrices(book, price.scale);
  if (size.scale > book.sizeScale) rescaleSizes(book, size.scale);
  const p =
    price.scale === book.priceScale ? price.units : price.units * pow10(book.priceScale - price.scale);
  const s = size.scale === book.sizeScale ? size.units : size.units * pow10(book.sizeScale - size.scale);
  const notional = p * s;

  const all = book.all;
  if (all.count === 0 || p > all.high) all.high = p;
  if (all.count === 0 || p < all.low) all.low = p;
  if (time < all.firstTime) {
    all.firstTime = time;
    all.firstPrice = p;
  }
  addTo(all, p, s, notional);

  if (time >= book.lastTime) applyInOrder(book, time, p, s, notional);
  else applyLate(book, time, p, s, notional);
  return state;
}

function addTo(sums: Sums, p: bigint, s: bigint, notional: bigint): void {
  sums.sumPrice += p;
  sums.sumSize += s;
  sums.sumNotional += notional;
  sums.count += 1;
}

function applyInOrder(book: ProductPrices, time: number, p: bigint, s: bigint, notional: bigint): void {
  book.lastTime = time;
  book.lastPrice = p;
  if (book.sliding.length === 0) return;
  const index = appendSlot(book);
  book.times[index] = time;
  book.prices.set(index, p);
  book.sizes.set(index, s);
  const { times, prices, sizes } = book;
  for (const window of book.sliding) {
    addTo(window, p, s, notional);
    while (window.highs.size > 0 && prices.get(window.highs.back()) <= p) window.highs.popBack();
    window.highs.pushBack(index);
    while (window.lows.size > 0 && prices.get(window.lows.back()) >= p) window.lows.popBack();
    window.lows.pushBack(index);
    const edge = time - window.micros;
    while (times[window.start]! <= edge) {
      const old = window.start;
      const oldPrice = prices.get(old);
      const oldSize = sizes.get(old);
      window.sumPrice -= oldPrice;
      window.sumSize -= oldSize;
      window.sumNotional -= oldPrice * oldSize;
      window.count -= 1;
      if (window.highs.front() === old) window.highs.popFront();
      if (window.lows.front() === old) window.lows.popFront();
      window.start = old + 1;
    }
  }
  let oldest = book.tail;
  for (const window of book.sliding) oldest = Math.min(oldest, window.start);
  book.head = oldest;
}

function applyLate(book: ProductPrices, time: number, p: bigint, s: bigint, notional: bigint): void {
  if (book.sliding.length === 0) return;
  let longest = 0;
  for (const window of book.sliding) longest = Math.max(longest, window.micros);
  if (time <= book.lastTime - longest) return;
  appendSlot(book);
  const { times, prices } = book;
  // Upper bound: after every stored trade with time ≤ this one (those were applied earlier).
  let low = book.head;
  let high = book.tail - 1;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (times[middle]! <= time) low = middle + 1;
    else high = middle;
  }
  const at = low;
  times.copyWithin(at + 1, at, book.tail);
  book.prices.copyWithin(at + 1, at, book.tail);
  book.sizes.copyWithin(at + 1, at, book.tail);
  times[at] = time;
  book.prices.set(at, p);
  book.sizes.set(at, s);
  for (const window of book.sliding) {
    window.highs.shift(at, 1);
    window.lows.shift(at, 1);
    if (time <= book.lastTime - window.micros) {
      // Before this window's span: only its position moves.
      window.start += 1;
      continue;
    }
    addTo(window, p, s, notional);
    insertIntoDeque(window.highs, prices, at, p, (kept, incoming) => kept > incoming);
    insertIntoDeque(window.lows, prices, at, p, (kept, incoming) => kept < incoming);
  }
}

/**
 * A monotonic deque holds index j iff its price beats (`beats`) every later trade in the window.
 * Inserting index `at`: earlier entries it now matches or beats leave; it enters iff it beats the
 * best later entry (the first entry after it), or there is none.
 */
function insertIntoDeque(
  deque: IndexDeque,
  prices: UnitsColumn,
  at: number,
  price: bigint,
  beats: (kept: bigint, incoming: bigint) => boolean,
): void {
  let split = deque.size;
  for (let offset = 0; offset < deque.size; offset += 1) {
    if (deque.at(offset) > at) {
      split = offset;
      break;
    }
  }
  let removeFrom = split;
  while (removeFrom > 0 && !beats(prices.get(deque.at(removeFrom - 1)), price)) removeFrom -= 1;
  const enters = split === deque.size || beats(price, prices.get(deque.at(split)));
  deque.splice(removeFrom, split - removeFrom, enters ? at : undefined);
}

/** Makes room for one more slot at the end, compacting or growing the columns; returns its index. */
function appendSlot(book: ProductPrices): number {
  if (book.tail === book.times.length) {
    const live = book.tail - book.head;
    if (book.head > 0 && live <= book.times.length / 2) {
      const offset = book.head;
      book.times.copyWithin(0, offset, book.tail);
      book.prices.copyWithin(0, offset, book.tail);
      book.sizes.copyWithin(0, offset, book.tail);
      for (const window of book.sliding) {
        window.start -= offset;
        window.highs.rebase(offset);
        window.lows.rebase(offset);
      }
      book.head = 0;
      book.tail = live;
    } else {
      const capacity = book.times.length * 2;
      const times = new Float64Array(capacity);
      times.set(book.times);
      book.times = times;
      book.prices.grow(capacity);
      book.sizes.grow(capacity);
    }
  }
  const index = book.tail;
  book.tail += 1;
  return index;
}

function rescalePrices(book: ProductPrices, scale: number): void {
  const factor = pow10(scale - book.priceScale);
  book.priceScale = scale;
  book.prices.multiply(factor, book.head, book.tail);
  book.lastPrice *= factor;
  book.all.high *= factor;
  book.all.low *= factor;
  book.all.firstPrice *= factor;
  for (const sums of [...book.sliding, book.all]) {
    sums.sumPrice *= factor;
    sums.sumNotional *= factor;
  }
}

function rescaleSizes(book: ProductPrices, scale: number): void {
  const factor = pow10(scale - book.sizeScale);
  book.sizeScale = scale;
  book.sizes.multiply(factor, book.head, book.tail);
  for (const sums of [...book.sliding, book.all]) {
    sums.sumSize *= factor;
    sums.sumNotional *= factor;
  }
}

/**
 * The exact value of a measure of a product's window (index from {@link windowIndex}), for the
 * alert book's comparisons: MEAN = Σprice / count, VWAP = Σprice·size / Σsize, LAST = newest price.
 */
export function measureRatio(book: ProductPrices, measure: Measure, window: number): Ratio {
  const unit = pow10(book.priceScale);
  if (measure === 'LAST') return { num: book.lastPrice, den: unit };
  const sums: Sums = book.sliding[window] ?? book.all;
  if (measure === 'MEAN') return { num: sums.sumPrice, den: BigInt(sums.count) * unit };
  return { num: sums.sumNotional, den: sums.sumSize * unit };
}

/**
 * A MOVE alert's value over a window: the move in percent from p0, the price of the window's oldest
 * trade (of equal times the first applied), to p, the newest (LAST): `(p − p0) × 100 / p0`, exact.
 */
export function moveRatio(book: ProductPrices, window: number): Ratio {
  const sliding = book.sliding[window];
  const first = sliding ? book.prices.get(sliding.start) : book.all.firstPrice;
  return { num: (book.lastPrice - first) * 100n, den: first };
}

/** The API's view of one product and window (`all` or a configured one); `undefined` before its first trade or for an unknown window. */
export function price(state: AveragePriceState, product: string, window: string): Price | undefined {
  const book = state.products.get(product);
  const index = windowIndex(state, window);
  if (!book || index < 0 || book.all.count === 0) return undefined;
  const sliding = book.sliding[index];
  const sums: Sums = sliding ?? book.all;
  const high = sliding ? book.prices.get(sliding.highs.front()) : book.all.high;
  const low = sliding ? book.prices.get(sliding.lows.front()) : book.all.low;
  const mean = measureRatio(book, 'MEAN', index);
  const vwap = measureRatio(book, 'VWAP', index);
  return {
    product,
    window,
    last: formatScaled(book.lastPrice, book.priceScale),
    mean: formatRatio(mean.num, mean.den),
    vwap: formatRatio(vwap.num, vwap.den),
    high: formatScaled(high, book.priceScale),
    low: formatScaled(low, book.priceScale),
    count: sums.count,
    volume: formatScaled(sums.sumSize, book.sizeScale),
    time: formatMicros(book.lastTime),
  };
}

/** A product's prices as plain data (typed arrays, BigInts), for the reactor's snapshot file. */
export interface ProductSnapshot {
  product: string;
  priceScale: number;
  sizeScale: number;
  lastPrice: bigint;
  lastTime: number;
  times: Float64Array;
  prices: BigInt64Array | bigint[];
  sizes: BigInt64Array | bigint[];
  sliding: (Sums & { start: number; highs: Int32Array; lows: Int32Array })[];
  all: AllWindow;
}

export interface PricesSnapshot {
  windowNames: readonly string[];
  products: ProductSnapshot[];
}

/** The state as plain data: the store's live part only, indices re-based to it. */
export function snapshot(state: AveragePriceState): PricesSnapshot {
  const products = [...state.products.values()].map((book): ProductSnapshot => {
    const { head, tail } = book;
    return {
      product: book.product,
      priceScale: book.priceScale,
      sizeScale: book.sizeScale,
      lastPrice: book.lastPrice,
      lastTime: book.lastTime,
      times: book.times.slice(head, tail),
      prices: book.prices.slice(head, tail),
      sizes: book.sizes.slice(head, tail),
      sliding: book.sliding.map((window) => ({
        sumPrice: window.sumPrice,
        sumSize: window.sumSize,
        sumNotional: window.sumNotional,
        count: window.count,
        start: window.start - head,
        highs: window.highs.values(head),
        lows: window.lows.values(head),
      })),
      all: { ...book.all },
    };
  });
  return { windowNames: state.windowNames, products };
}

/** The state a {@link snapshot} was taken of; `undefined` when it kept other windows than `windows`. */
export function restore(saved: PricesSnapshot, windows: readonly string[]): AveragePriceState | undefined {
  const state = initialState(windows);
  if (saved.windowNames.join(',') !== state.windowNames.join(',')) return undefined;
  for (const product of saved.products) {
    const held = product.times.length;
    const capacity = Math.max(INITIAL_CAPACITY, held * 2);
    const times = new Float64Array(capacity);
    times.set(product.times);
    state.products.set(product.product, {
      product: product.product,
      priceScale: product.priceScale,
      sizeScale: product.sizeScale,
      lastPrice: product.lastPrice,
      lastTime: product.lastTime,
      times,
      prices: UnitsColumn.of(product.prices, capacity),
      sizes: UnitsColumn.of(product.sizes, capacity),
      head: 0,
      tail: held,
      sliding: product.sliding.map((window, index) => ({
        sumPrice: window.sumPrice,
        sumSize: window.sumSize,
        sumNotional: window.sumNotional,
        count: window.count,
        micros: state.windowMicros[index]!,
        start: window.start,
        highs: IndexDeque.of(window.highs),
        lows: IndexDeque.of(window.lows),
      })),
      all: { ...product.all },
    });
  }
  return state;
}

/** Bytes held by a product's trade store and deques (for the benchmark's bytes-per-trade figure). */
export function storeBytes(book: ProductPrices): number {
  let bytes = book.times.byteLength + book.prices.bytes + book.sizes.bytes;
  for (const window of book.sliding) bytes += window.highs.bytes + window.lows.bytes;
  return bytes;
}
