// Recording trades: validation (CONTRACT §2), deterministic event ids, and exactly-once appends per product stream.
import { v5 as uuidv5 } from 'uuid';
import { StoreConflict } from '../eventstore/errors.ts';
import { ANY, appendToStream, BACKWARDS, END, readStream, type StoreClient } from '../eventstore/store.ts';
import { normalizeDecimal, parseScaled } from './decimal.ts';
import { badInput, DomainError } from './errors.ts';
import { parseEvent, type TradeRecorded } from './events.ts';
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
  const outcome = await appendExactlyOnce(client, stream, [decided]);
  if (outcome.recorded === 1) return { trade: decided.data, recorded: true, conflictingFields: [] };
  // Against a real EventStoreDB the revision of a replayed append need not be the original's; then the
  // stored trade cannot be found in one read and the caller's values stand in for it.
  const stored = (await storedTrade(client, stream, decided.id, outcome.revision)) ?? decided.data;
  return {
    trade: stored,
    recorded: false,
    conflictingFields: VALUE_FIELDS.filter((field) => stored[field] !== decided.data[field]),
  };
}

/** The TradeRecorded with this event id at this revision of the stream, if that is where it is. */
async function storedTrade(
  client: StoreClient,
  stream: string,
  id: string,
  revision: bigint,
): Promise<TradeRecorded | undefined> {
  let found: TradeRecorded | undefined;
  for await (const event of readStream(client, stream, { fromRevision: revision, maxCount: 1 })) {
    if (event.id !== id) continue;
    const parsed = parseEvent(event.type, event.data);
    if (parsed.ok && parsed.event.type === 'TradeRecorded') found = parsed.event.data;
  }
  return found;
}

const MAX_BATCH = 500;

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
      const outcome = await appendExactlyOnce(
        client,
        tradeStream(product),
        trades.slice(start, start + MAX_BATCH),
      );
      summary.recorded += outcome.recorded;
      summary.alreadyPresent += outcome.alreadyPresent;
    }
  }
  return summary;
}

/**
 * The last revision each trade stream was seen at, per client, so the live path costs one round trip
 * per batch rather than two. A stale value only makes appends look newer than they are in the race
 * described at {@link appendExactlyOnce}; it never lets an event in twice.
 */
const knownRevisions = new WeakMap<StoreClient, Map<string, bigint>>();

function revisionsOf(client: StoreClient): Map<string, bigint> {
  let revisions = knownRevisions.get(client);
  if (!revisions) {
    revisions = new Map();
    knownRevisions.set(client, revisions);
  }
  return revisions;
}

async function lastRevision(client: StoreClient, stream: string): Promise<bigint> {
  const known = revisionsOf(client).get(stream);
  if (known !== undefined) return known;
  let revision = -1n;
  for await (const event of readStream(client, stream, {
    direction: BACKWARDS,
    fromRevision: END,
    maxCount: 1,
  })) {
    revision = event.revision;
  }
  return revision;
}

/**
 * Appends trades so that each ends up in the stream exactly once, and says how many were new and the
 * revision the (last) append answered with: for one trade already there, the revision it is at.
 *
 * The embedded node's rule: an append (expected revision ANY) whose ids are all in the stream as one
 * consecutive run succeeds without writing and answers with the original revision; one where only some
 * are there fails with WrongExpectedVersion. So a whole batch is tried first; on that failure it is
 * halved until every part is all-new or all-present, down to single trades, which never conflict. A
 * success that wrote reports a revision past the stream's end as last seen; a replayed one, the
 * original's. (A concurrent writer racing on the very same trade can make both writers count it as
 * recorded; the stream still holds it once.)
 *
 * Against a real EventStoreDB cluster this is weaker: its idempotency compares only the first event id,
 * and for expected revision ANY only against an in-memory cache of recent writes. Re-recording trades
 * written long ago (an old file imported again, after a restart) appends them a second time there, and
 * the projections would count the duplicates. Exactly-once for old trades needs the embedded node.
 */
async function appendExactlyOnce(
  client: StoreClient,
  stream: string,
  trades: readonly { id: string; data: TradeRecorded }[],
): Promise<{ recorded: number; alreadyPresent: number; revision: bigint }> {
  if (trades.length === 0) return { recorded: 0, alreadyPresent: 0, revision: -1n };
  const before = await lastRevision(client, stream);
  try {
    const { revision } = await appendToStream(
      client,
      stream,
      trades.map((trade) => ({ id: trade.id, type: 'TradeRecorded', data: trade.data })),
      { expectedRevision: ANY },
    );
    if (revision <= before) return { recorded: 0, alreadyPresent: trades.length, revision };
    revisionsOf(client).set(stream, revision);
    return { recorded: trades.length, alreadyPresent: 0, revision };
  } catch (error) {
    if (!(error instanceof StoreConflict) || trades.length === 1) throw error;
    const half = Math.ceil(trades.length / 2);
    const first = await appendExactlyOnce(client, stream, trades.slice(0, half));
    const second = await appendExactlyOnce(client, stream, trades.slice(half));
    return {
      recorded: first.recorded + second.recorded,
      alreadyPresent: first.alreadyPresent + second.alreadyPresent,
      revision: second.revision,
    };
  }
}
