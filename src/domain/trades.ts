// Recording trades: validation (CONTRACT §2), deterministic event ids, and exactly-once appends per product stream.
import { v5 as uuidv5 } from 'uuid';
import { StoreConflict } from '../eventstore/errors.ts';
import { readForwards } from '../eventstore/fastRead.ts';
import {
  appendToStream,
  lastEvent,
  NO_STREAM,
  readStream,
  writeStreamMetadata,
  type StoreClient,
} from '../eventstore/store.ts';
import { normalizeDecimal, parseScaled } from './decimal.ts';
import { badInput, DomainError } from './errors.ts';
import { parseEvent, type TradeRecorded } from './events.ts';
import {
  createTradeIndex,
  isTradeIndexSnapshot,
  type TradeIndex,
  type TradeIndexSnapshot,
  type TradeLocation,
} from './tradeIndex.ts';
import { parseTime } from './time.ts';
import { TRADE_ID_NAMESPACE, tradeStream, type TradeInput } from './types.ts';

export interface RecordSummary {
  recorded: number;
  alreadyPresent: number;
  rejected: { index: number; reason: string }[];
}

/** The event id of a trade: the same trade from the feed and from an import is one event. */
export const tradeEventId = (source: string, product: string, tradeId: string): string =>
  uuidv5(`${source}:${product}:${tradeId}`, TRADE_ID_NAMESPACE);

const positive = (field: string, value: unknown): string => {
  const text = typeof value === 'string' ? value : undefined;
  const scaled = text === undefined ? undefined : parseScaled(text);
  if (!scaled || scaled.units <= 0n) throw badInput(field, 'must be a decimal number greater than 0');
  return normalizeDecimal(text!)!;
};

/** A trade's id at its venue: long enough for any venue's ids (UUIDs, 64-bit numbers), short enough to
 *  keep events small; no spaces or control characters, which only ever come from garbage. */
export const TRADE_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
const TRADE_ID_RULE = '1–64 letters, digits or . _ : -';
/** A venue's name (`coinbase`, `kraken`); no `:` so that `{source}:{product}:{tradeId}` reads one way. */
export const SOURCE_PATTERN = /^[A-Za-z0-9._-]{1,32}$/;
export const SOURCE_RULE = '1–32 letters, digits or . _ -';

/** At most this much of a rejected value is echoed back in an error message. */
const quoted = (value: unknown): string => {
  const text = String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
};

/**
 * Checks a trade against CONTRACT §2 and returns the `TradeRecorded` it becomes: configured product,
 * a tradeId and source of bounded length and plain characters, price and size > 0, side buy or sell,
 * a valid time (kept to the microsecond, stored canonically).
 * Throws a BAD_USER_INPUT {@link DomainError} naming the field.
 */
export function validateTrade(input: TradeInput, products: readonly string[]): TradeRecorded {
  if (!products.includes(input.product))
    throw badInput(
      'product',
      `${quoted(input.product)} is not a configured product (${products.join(', ')})`,
    );
  if (typeof input.tradeId !== 'string' || !TRADE_ID_PATTERN.test(input.tradeId))
    throw badInput('tradeId', `must be ${TRADE_ID_RULE}`);
  const price = positive('price', input.price);
  const size = positive('size', input.size);
  if (input.side !== 'buy' && input.side !== 'sell') throw badInput('side', 'must be buy or sell');
  const time = typeof input.time === 'string' ? parseTime(input.time) : undefined;
  if (!time) throw badInput('time', 'must be an ISO-8601 time with a zone, at most microseconds');
  const source = input.source ?? 'api';
  if (typeof source !== 'string' || !SOURCE_PATTERN.test(source))
    throw badInput('source', `must be ${SOURCE_RULE}`);
  return {
    product: input.product,
    tradeId: input.tradeId,
    price,
    size,
    side: input.side,
    time: time.iso,
    source,
  };
}

/** Why {@link validateTrade} refuses the trade (`price: must be …`), or undefined when it takes it. */
export function tradeProblem(input: TradeInput, products: readonly string[]): string | undefined {
  try {
    validateTrade(input, products);
    return undefined;
  } catch (error) {
    if (error instanceof DomainError) return error.message;
    throw error;
  }
}

/** decide(recordTrade): the one event a valid trade becomes, with its deterministic id. Trades have no state to consult. */
export function decideRecordTrade(
  input: TradeInput,
  products: readonly string[],
): { id: string; data: TradeRecorded } {
  const data = validateTrade(input, products);
  return { id: tradeEventId(data.source, data.product, data.tradeId), data };
}

/** What a trade is besides its identity (source, product, tradeId). */
export type TradeValueField = 'price' | 'size' | 'side' | 'time';
const VALUE_FIELDS: readonly TradeValueField[] = ['price', 'size', 'side', 'time'];

export interface RecordTradeOutcome {
  /** The trade as stored: the caller's when new, else the one recorded first, unchanged. */
  trade: TradeRecorded;
  /** False when a trade with this identity was already there. */
  recorded: boolean;
  /** Where the caller's values differ from the stored trade's (empty when new or identical). */
  conflictingFields: TradeValueField[];
}

/**
 * Records one trade (the API's `recordTrade`). A trade's identity is source, product and tradeId, so a
 * second call with the same identity writes nothing, whatever its other values: the answer is the
 * stored trade, with the fields the caller gave differently.
 */
export async function recordTrade(
  client: StoreClient,
  input: TradeInput,
  options: { products: readonly string[] },
): Promise<RecordTradeOutcome> {
  const decided = decideRecordTrade(input, options.products);
  const stream = tradeStream(decided.data.product);
  // Read what others appended first: appended again at the revision this writer last saw, the very same
  // trade would be answered as a replay of theirs, and reported as recorded here.
  const outcome = await appendOnce(client, stream, [decided], { fresh: true });
  if (outcome.recorded === 1) return { trade: decided.data, recorded: true, conflictingFields: [] };
  const where = outcome.located[0];
  // Only a stream truncated since ($maxCount, $tb, a scavenge) loses the stored trade: then the caller's
  // values are all there is to answer with.
  const stored = (where && (await storedTrade(client, stream, decided.id, where))) ?? decided.data;
  return {
    trade: stored,
    recorded: false,
    conflictingFields: VALUE_FIELDS.filter((field) => stored[field] !== decided.data[field]),
  };
}

/** The TradeRecorded with this event id, looked for at the location's guesses, then through its revisions. */
async function storedTrade(
  client: StoreClient,
  stream: string,
  id: string,
  where: TradeLocation,
): Promise<TradeRecorded | undefined> {
  const look = async (from: number, count: number): Promise<TradeRecorded | undefined> => {
    for await (const event of readStream(client, stream, { fromRevision: BigInt(from), maxCount: count })) {
      if (event.id !== id) continue;
      const parsed = parseEvent(event.type, event.data);
      if (parsed.ok && parsed.event.type === 'TradeRecorded') return parsed.event.data;
    }
    return undefined;
  };
  for (const guess of where.guesses) {
    const found = await look(guess, 1);
    if (found) return found;
  }
  for (let from = where.from; from <= where.to; from += LOOKUP_PAGE) {
    const found = await look(from, Math.min(LOOKUP_PAGE, where.to - from + 1));
    if (found) return found;
  }
  return undefined;
}

const MAX_BATCH = 500;
const LOOKUP_PAGE = 1000;

/**
 * Records many trades (feeds and imports): invalid ones are rejected with their index and reason,
 * valid ones are appended per product stream in batches, each trade exactly once. Input order is kept
 * within a product.
 */
export async function recordTrades(
  client: StoreClient,
  inputs: readonly TradeInput[],
  options: { products: readonly string[] },
): Promise<RecordSummary> {
  const summary: RecordSummary = { recorded: 0, alreadyPresent: 0, rejected: [] };
  const byProduct = new Map<string, { id: string; data: TradeRecorded }[]>();
  const inThisCall = new Set<string>();
  inputs.forEach((input, index) => {
    let decided: { id: string; data: TradeRecorded };
    try {
      decided = decideRecordTrade(input, options.products);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      summary.rejected.push({ index, reason: error.message });
      return;
    }
    if (inThisCall.has(decided.id)) {
      summary.alreadyPresent += 1;
      return;
    }
    inThisCall.add(decided.id);
    const list = byProduct.get(decided.data.product) ?? [];
    list.push(decided);
    byProduct.set(decided.data.product, list);
  });
  for (const [product, trades] of byProduct) {
    for (let start = 0; start < trades.length; start += MAX_BATCH) {
      const outcome = await appendOnce(client, tradeStream(product), trades.slice(start, start + MAX_BATCH));
      summary.recorded += outcome.recorded;
      summary.alreadyPresent += outcome.alreadyPresent;
    }
  }
  return summary;
}

/*
 * Exactly once on EventStoreDB's terms. EventStoreDB recognises a replayed append with expected revision
 * ANY only while its event ids are in a bounded in-memory cache of recent writes, and then only by the
 * first id (README, "Idempotency"); so trades are not left to that. Each writer keeps, per product
 * stream, an index of the trades the stream holds, built from the stream itself (from a snapshot in
 * `trade-index-{product}` and what came after it), and appends only trades the index lacks, with the
 * EXACT revision the index was built to. An exact expected revision is never written past another
 * append: whoever appended in between (another feed connector, an import, the API's recordTrade, this
 * writer's own append whose answer was lost) makes it WrongExpectedVersion, or, when that append was this
 * very batch at this very revision, EventStoreDB answers it as the original from the stored events. On
 * WrongExpectedVersion (a StoreConflict here) the writer reads the stream's new tail into its index, drops what is now there,
 * and tries again. Nothing here depends on the store recognising old event ids.
 *
 * The counts can be generous in one race: when a batch is exactly what another writer appended just
 * before at the revision this writer expects, the store answers it as a replay, and both count those
 * trades as recorded. The stream holds them once. recordTrade reads the tail first to keep its answer
 * true but for writers racing within that read's round trip.
 */

interface StreamTrades {
  readonly index: TradeIndex;
  /** The revision the index covers the stream up to; -1n before the stream's first event. */
  revision: bigint;
  /** The revision of the newest snapshot written or read; -1n for none. */
  snapshotAt: bigint;
}

interface StreamWriter {
  trades?: StreamTrades;
  /** The appends to this stream from this client run one at a time: they share the index. */
  tail: Promise<unknown>;
}

const writers = new WeakMap<StoreClient, Map<string, StreamWriter>>();

function writerOf(client: StoreClient, stream: string): StreamWriter {
  let streams = writers.get(client);
  if (!streams) {
    streams = new Map();
    writers.set(client, streams);
  }
  let writer = streams.get(stream);
  if (!writer) {
    writer = { tail: Promise.resolve() };
    streams.set(stream, writer);
  }
  return writer;
}

/** Another writer may keep winning the race; past this many conflicts in a row the call fails and is retried by its caller. */
const MAX_CONFLICTS = 50;
/** A snapshot of the index after this many more events in the stream. */
const SNAPSHOT_EVERY = 10_000n;
/** A snapshot larger than this is not written (an index of a million UUID trade ids would not fit an append). */
const MAX_SNAPSHOT_BYTES = 512 * 1024;
const SNAPSHOT_TYPE = 'TradeIndexSnapshot';

/** The side stream holding snapshots of a trade stream's index. Not `trades-…`: it holds no trades. */
export const tradeIndexStream = (stream: string): string => `trade-index-${stream.slice('trades-'.length)}`;

/**
 * Appends the trades the stream does not hold yet, each exactly once, and says how many were new and
 * where the others are. See the comment above.
 */
async function appendOnce(
  client: StoreClient,
  stream: string,
  trades: readonly { id: string; data: TradeRecorded }[],
  options: { fresh?: boolean } = {},
): Promise<{ recorded: number; alreadyPresent: number; located: (TradeLocation | undefined)[] }> {
  const writer = writerOf(client, stream);
  const run = writer.tail.then(async () => {
    const loaded = writer.trades;
    const state = (writer.trades = loaded ?? (await loadTrades(client, stream)));
    if (loaded && options.fresh) await readInto(client, stream, state);
    const known = (trade: { data: TradeRecorded }) => state.index.has(trade.data.source, trade.data.tradeId);
    let pending = trades.filter((trade) => !known(trade));
    let recorded = 0;
    for (let conflicts = 0; pending.length > 0;) {
      try {
        const result = await appendToStream(
          client,
          stream,
          pending.map((trade) => ({ id: trade.id, type: 'TradeRecorded', data: trade.data })),
          { expectedRevision: state.revision < 0n ? NO_STREAM : state.revision },
        );
        // The last event's revision; also when the store answers a replay of this batch from the stored events.
        const first = Number(result.revision) - pending.length + 1;
        pending.forEach((trade, at) => state.index.add(trade.data.source, trade.data.tradeId, first + at));
        state.revision = result.revision;
        recorded += pending.length;
        pending = [];
      } catch (error) {
        if (!(error instanceof StoreConflict)) throw error;
        if (++conflicts >= MAX_CONFLICTS) {
          // Perhaps the stream was deleted and begun again under the index: the next call reads it afresh.
          writer.trades = undefined;
          throw error;
        }
        await readInto(client, stream, state);
        pending = pending.filter((trade) => !known(trade));
      }
    }
    await maybeSnapshot(client, stream, state);
    return {
      recorded,
      alreadyPresent: trades.length - recorded,
      located: trades.map((trade) => state.index.locate(trade.data.source, trade.data.tradeId)),
    };
  });
  writer.tail = run.catch(() => undefined);
  return run;
}

/** The stream's trades as of now: the newest usable snapshot, then every event after it. */
async function loadTrades(client: StoreClient, stream: string): Promise<StreamTrades> {
  const end = await lastRevision(client, stream);
  const saved = await readSnapshot(client, stream);
  // A snapshot past the stream's end belongs to a stream since deleted and begun again.
  const usable = saved && saved.revision <= end ? saved : undefined;
  const state: StreamTrades = usable
    ? { index: createTradeIndex(usable.snapshot), revision: usable.revision, snapshotAt: usable.revision }
    : { index: createTradeIndex(), revision: -1n, snapshotAt: -1n };
  await readInto(client, stream, state);
  return state;
}

/**
 * Reads the stream after `state.revision` into the index. A writer's first load without a snapshot reads
 * the whole stream, so this takes the port's fast forward read (src/eventstore/fastRead.ts), which falls
 * back on the public readStream with any client version other than the one it was written against.
 */
async function readInto(client: StoreClient, stream: string, state: StreamTrades): Promise<void> {
  for await (const event of readForwards(client, stream, Number(state.revision + 1n))) {
    if (event.type === 'TradeRecorded') {
      const parsed = parseEvent(event.type, event.data);
      if (parsed.ok && parsed.event.type === 'TradeRecorded')
        state.index.add(parsed.event.data.source, parsed.event.data.tradeId, event.revision);
    }
    state.revision = BigInt(event.revision);
  }
}

async function lastRevision(client: StoreClient, stream: string): Promise<bigint> {
  return (await lastEvent(client, stream))?.revision ?? -1n;
}

async function readSnapshot(
  client: StoreClient,
  stream: string,
): Promise<{ revision: bigint; snapshot: TradeIndexSnapshot } | undefined> {
  const event = await lastEvent(client, tradeIndexStream(stream));
  if (!event || event.type !== SNAPSHOT_TYPE) return undefined;
  const data = event.data as { revision?: unknown; index?: unknown };
  return typeof data.revision === 'string' && /^\d+$/.test(data.revision) && isTradeIndexSnapshot(data.index)
    ? { revision: BigInt(data.revision), snapshot: data.index }
    : undefined;
}

/**
 * Saves the index every SNAPSHOT_EVERY events, so that a writer starting later reads only the tail. A
 * snapshot is a shortcut, never the truth: one that cannot be written is simply tried again later.
 */
async function maybeSnapshot(client: StoreClient, stream: string, state: StreamTrades): Promise<void> {
  if (state.revision - state.snapshotAt < SNAPSHOT_EVERY) return;
  const revision = state.revision;
  const data = { revision: revision.toString(), index: state.index.snapshot() };
  if (JSON.stringify(data).length > MAX_SNAPSHOT_BYTES) {
    state.snapshotAt = revision;
    return;
  }
  try {
    const side = tradeIndexStream(stream);
    if (state.snapshotAt < 0n) await writeStreamMetadata(client, side, { maxCount: 2 });
    await appendToStream(client, side, { type: SNAPSHOT_TYPE, data });
    state.snapshotAt = revision;
  } catch {
    // Left for the next append to try again; the trades themselves are recorded.
  }
}
