// One persistent subscription group at run time: reads its source (a stream or `$all`) into a buffer,
// hands events to its consumers by the group's strategy, tracks what each consumer holds until it acks,
// retries or parks what is nacked or times out, and checkpoints the position before the oldest event
// not yet done. Checkpoints, parked messages and the replay mark are ordinary appends, so they are as
// durable as any event; everything else is rebuilt from them after a restart (at-least-once).
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Storage } from './storage.ts';
import { encodeReadEvent, type StoredEvent } from './wire.ts';

export type ConsumerStrategy = 'DispatchToSingle' | 'RoundRobin' | 'Pinned';

export interface FilterSpec {
  readonly on: 'stream' | 'type';
  readonly regex?: string;
  readonly prefixes?: readonly string[];
}

/** EventStoreDB's settings, times in milliseconds; `startFrom` is a revision or an `$all` position. */
export interface GroupSettings {
  readonly startFrom: number | 'start' | 'end';
  readonly resolveLinkTos: boolean;
  readonly extraStatistics: boolean;
  readonly messageTimeoutMs: number;
  readonly maxRetryCount: number;
  readonly checkpointAfterMs: number;
  readonly minCheckpointCount: number;
  readonly maxCheckpointCount: number;
  /** 0: unbounded. */
  readonly maxSubscriberCount: number;
  readonly liveBufferSize: number;
  readonly readBatchSize: number;
  readonly historyBufferSize: number;
  readonly strategy: ConsumerStrategy;
}

export interface GroupConfig {
  /** A stream name, or `$all`. */
  readonly stream: string;
  readonly group: string;
  readonly filter?: FilterSpec | undefined;
  readonly settings: GroupSettings;
}

export const ALL = '$all';
const CHECKPOINT_TYPE = '$SubscriptionCheckpoint';
const LINK_TYPE = '$>';

/** The streams EventStoreDB keeps beside a group, `$all` included under that name. */
export const parkedStreamOf = (stream: string, group: string): string =>
  `$persistentsubscription-${stream}::${group}-parked`;
export const checkpointStreamOf = (stream: string, group: string): string =>
  `$persistentsubscription-${stream}::${group}-checkpoint`;

/** How positions read in `getInfo`: a revision for a stream, `C:…/P:…` for `$all`. */
export const formatKey = (stream: string, key: number): string =>
  stream === ALL ? `C:${key}/P:${key}` : String(key);

/** What a connected consumer is to the group: somewhere to write, and how much it may hold. */
export interface ConsumerLink {
  readonly bufferSize: number;
  readonly from: string;
  readonly connectionName: string;
  write(chunk: Buffer): void;
  /** The group drops this consumer (nack `stop`, update, delete, restart). */
  drop(reason: 'dropped' | 'deleted'): void;
}

interface Consumer {
  readonly link: ConsumerLink;
  inFlight: number;
  delivered: number;
}

interface Message {
  readonly event: StoredEvent;
  /** Revision (stream) or position (`$all`): where the group's checkpoint must stay before until done. */
  readonly key: number;
  readonly id: string;
  retryCount: number;
  /** Replayed from the parked stream: before the checkpoint already, so not part of its sequence. */
  readonly replayed: boolean;
}

interface InFlight {
  readonly message: Message;
  readonly consumer: Consumer;
  readonly deadline: number;
}

export type NackAction = 'park' | 'retry' | 'skip' | 'stop';

export interface GroupInfo {
  readonly status: string;
  readonly connections: readonly {
    readonly from: string;
    readonly connectionName: string;
    readonly delivered: number;
    readonly inFlight: number;
    readonly availableSlots: number;
  }[];
  readonly delivered: number;
  readonly averagePerSecond: number;
  readonly lastCheckpoint: string;
  readonly lastKnown: string;
  readonly readBufferCount: number;
  readonly liveBufferCount: number;
  readonly retryBufferCount: number;
  readonly inFlight: number;
  readonly parkedCount: number;
}

export interface Group {
  readonly config: GroupConfig;
  /** Null when the group is full (`maxSubscriberCount`). */
  join(link: ConsumerLink): Consumer | null;
  leave(consumer: Consumer): void;
  ack(ids: readonly string[]): void;
  nack(ids: readonly string[], action: NackAction, reason: string): void;
  replayParked(stopAt: number | undefined): void;
  info(): GroupInfo;
  /** Timeouts and time-based checkpoints; the subsystem calls it a few times a second. */
  tick(now: number): void;
  /** Drops every consumer; with `checkpoint`, writes the last checkpoint before resolving. */
  stop(reason: 'dropped' | 'deleted', checkpoint: boolean): Promise<void>;
}

export type { Consumer };

export function compileFilter(spec: FilterSpec | undefined): ((event: StoredEvent) => boolean) | undefined {
  if (!spec) return undefined;
  const value = (event: StoredEvent): string => (spec.on === 'type' ? event.type : event.streamName);
  if (spec.regex) {
    const pattern = new RegExp(spec.regex);
    return (event) => pattern.test(value(event));
  }
  const prefixes = spec.prefixes ?? [];
  if (prefixes.length === 0) return undefined;
  return (event) => prefixes.some((prefix) => value(event).startsWith(prefix));
}

/** FNV-1a: the same stream lands on the same consumer for as long as the consumers stay the same. */
function hashOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index += 1) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

function varint(value: number): number[] {
  const bytes: number[] = [];
  let v = value;
  while (v >= 0x80) {
    bytes.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  bytes.push(v);
  return bytes;
}

/**
 * A persistent ReadResp is a streams ReadResp whose ReadEvent also carries `retry_count` (field 5):
 * the event is encoded as for catch-up and the count appended inside the ReadEvent.
 */
export function encodePersistentEvent(event: StoredEvent, retryCount: number): Buffer {
  const plain = encodeReadEvent(event);
  let offset = 1;
  while (plain[offset]! & 0x80) offset += 1;
  const body = plain.subarray(offset + 1);
  const retry = [0x28, ...varint(retryCount)];
  const header = [0x0a, ...varint(body.length + retry.length)];
  const out = Buffer.allocUnsafe(header.length + body.length + retry.length);
  out.set(header, 0);
  body.copy(out, header.length);
  out.set(retry, header.length + body.length);
  return out;
}

/** `"{revision}@{stream}"`, the body of EventStoreDB's link events, as stored in the parked stream. */
const linkTo = (event: StoredEvent): Buffer => Buffer.from(`${event.revision}@${event.streamName}`, 'utf8');

function resolveLink(storage: Storage, link: StoredEvent): StoredEvent | undefined {
  const text = link.data.toString('utf8');
  const at = text.indexOf('@');
  const revision = Number(text.slice(0, at));
  const stream = text.slice(at + 1);
  if (at < 0 || !Number.isSafeInteger(revision)) return undefined;
  const view = storage.viewStream(stream);
  if (view.kind !== 'present') return undefined;
  const [event] = storage.readStream(view, stream, revision, true, 1);
  return event?.revision === revision ? event : undefined;
}

/** The newest event of a stream, if it has one. */
function lastEventOf(storage: Storage, stream: string): StoredEvent | undefined {
  const view = storage.viewStream(stream);
  if (view.kind !== 'present') return undefined;
  return storage.readStream(view, stream, view.lastRevision, false, 1)[0];
}

/** Appends one event the node writes for itself (checkpoint, parked link, metadata, config). */
export async function appendSystemEvent(
  storage: Storage,
  stream: string,
  type: string,
  data: Buffer,
  metadata: Buffer = Buffer.alloc(0),
): Promise<void> {
  const outcome = await storage.append(stream, { kind: 'any' }, [
    {
      id: Buffer.from(randomUUID().replace(/-/g, ''), 'hex'),
      type,
      contentType: type === LINK_TYPE ? 'application/octet-stream' : 'application/json',
      data,
      metadata,
    },
  ]);
  if (outcome.kind !== 'success') throw new Error(`cannot append to ${stream}: ${outcome.kind}`);
}

export interface GroupOptions {
  readonly config: GroupConfig;
  readonly storage: Storage;
  readonly logger: Logger;
}

export function startGroup({ config, storage, logger }: GroupOptions): Group {
  const { stream, group, settings } = config;
  const isAll = stream === ALL;
  const matches = compileFilter(config.filter);
  const parkedStream = parkedStreamOf(stream, group);
  const checkpointStream = checkpointStreamOf(stream, group);
  const log = logger.child({ stream, group });

  const consumers: Consumer[] = [];
  let roundRobin = 0;
  /** Read, not yet sent; `head` is the next to send. */
  let buffer: (Message | undefined)[] = [];
  let head = 0;
  const retries: Message[] = [];
  const inFlight = new Map<string, InFlight>();
  /** Keys read and not yet acked, skipped or parked, in read order: the checkpoint stays before the first. */
  const unfinished = new Set<number>();
  let lastRead: number;
  let caughtUp = false;
  let stopped = false;
  let delivered = 0;
  const startedAt = Date.now();
  let lastCheckpoint: number | undefined;
  let checkpointing: Promise<void> | undefined;
  let processedSinceCheckpoint = 0;
  let lastCheckpointAt = Date.now();
  /** Replayed parked messages not yet done, and the parked revision to truncate to once they are. */
  let replaying = 0;
  let replayedUpTo: number | undefined;
  let pumpScheduled = false;

  const checkpointed = lastEventOf(storage, checkpointStream);
  if (checkpointed) {
    const value: unknown = JSON.parse(checkpointed.data.toString('utf8'));
    lastRead = typeof value === 'number' ? value : Number(/^C:(\d+)/.exec(String(value))?.[1] ?? -1);
    lastCheckpoint = lastRead;
  } else if (settings.startFrom === 'start') lastRead = -1;
  else if (settings.startFrom === 'end') {
    if (isAll) lastRead = storage.head();
    else {
      const view = storage.viewStream(stream);
      lastRead = view.kind === 'present' ? view.lastRevision : -1;
    }
  } else lastRead = settings.startFrom - 1;

  const idOf = (event: StoredEvent): string => event.eventId.toString('hex');

  const readMore = (): void => {
    const limit = caughtUp ? settings.liveBufferSize : settings.historyBufferSize;
    while (!caughtUp && buffer.length - head < limit) {
      let page: StoredEvent[];
      if (isAll) page = storage.readAll(lastRead, true, settings.readBatchSize);
      else {
        const view = storage.viewStream(stream);
        page =
          view.kind === 'present'
            ? storage.readStream(view, stream, lastRead + 1, true, settings.readBatchSize)
            : [];
      }
      for (const event of page) {
        const key = isAll ? event.position : event.revision;
        lastRead = key;
        if (matches && !matches(event)) continue;
        unfinished.add(key);
        buffer.push({ event, key, id: idOf(event), retryCount: 0, replayed: false });
      }
      if (page.length < settings.readBatchSize) caughtUp = true;
    }
    if (head > 1024 && head * 2 > buffer.length) {
      buffer = buffer.slice(head);
      head = 0;
    }
  };

  const pick = (message: Message): Consumer | undefined => {
    const count = consumers.length;
    if (count === 0) return undefined;
    const free = (consumer: Consumer): boolean => consumer.inFlight < consumer.link.bufferSize;
    if (settings.strategy === 'Pinned') {
      const pinned = consumers[hashOf(message.event.streamName) % count]!;
      return free(pinned) ? pinned : undefined;
    }
    if (settings.strategy === 'DispatchToSingle') return consumers.find(free);
    for (let step = 0; step < count; step += 1) {
      const consumer = consumers[(roundRobin + step) % count]!;
      if (free(consumer)) {
        roundRobin = (roundRobin + step + 1) % count;
        return consumer;
      }
    }
    return undefined;
  };

  function pump(): void {
    pumpScheduled = false;
    if (stopped) return;
    if (buffer.length - head < settings.readBatchSize) readMore();
    const now = Date.now();
    for (;;) {
      const fromRetries = retries.length > 0;
      const message = fromRetries ? retries[0] : buffer[head];
      if (!message) {
        if (!caughtUp) {
          readMore();
          if (buffer.length > head) continue;
        }
        return;
      }
      const consumer = pick(message);
      if (!consumer) return;
      if (fromRetries) retries.shift();
      else buffer[head++] = undefined;
      consumer.inFlight += 1;
      consumer.delivered += 1;
      delivered += 1;
      inFlight.set(message.id, {
        message,
        consumer,
        deadline: settings.messageTimeoutMs > 0 ? now + settings.messageTimeoutMs : Number.POSITIVE_INFINITY,
      });
      consumer.link.write(encodePersistentEvent(message.event, message.retryCount));
    }
  }

  const schedulePump = (): void => {
    if (pumpScheduled || stopped) return;
    pumpScheduled = true;
    setImmediate(pump);
  };

  const writeCheckpoint = (): void => {
    if (checkpointing || stopped) return;
    const first = unfinished.values().next();
    const value = first.done ? lastRead : first.value - 1;
    processedSinceCheckpoint = 0;
    lastCheckpointAt = Date.now();
    if (value === lastCheckpoint || value < 0) return;
    const data = Buffer.from(JSON.stringify(isAll ? formatKey(ALL, value) : value), 'utf8');
    const first_ = lastCheckpoint === undefined;
    checkpointing = (async () => {
      // Only the newest checkpoint matters, as in EventStoreDB.
      if (first_)
        await appendSystemEvent(
          storage,
          `$$${checkpointStream}`,
          '$metadata',
          Buffer.from('{"$maxCount":1}'),
        );
      await appendSystemEvent(storage, checkpointStream, CHECKPOINT_TYPE, data);
      lastCheckpoint = value;
    })()
      .catch((error: unknown) => log.error({ err: error }, 'writing the checkpoint failed'))
      .finally(() => (checkpointing = undefined));
  };

  /** Replayed messages leave the parked stream only once every one of them is done. */
  const truncateReplayed = (): void => {
    if (replaying > 0 || replayedUpTo === undefined) return;
    const truncateAt = replayedUpTo;
    replayedUpTo = undefined;
    appendSystemEvent(
      storage,
      `$$${parkedStream}`,
      '$metadata',
      Buffer.from(JSON.stringify({ $tb: truncateAt })),
    ).catch((error: unknown) => log.error({ err: error }, 'truncating the parked stream failed'));
  };

  const finish = (message: Message): void => {
    if (message.replayed) {
      replaying -= 1;
      truncateReplayed();
      return;
    }
    unfinished.delete(message.key);
    processedSinceCheckpoint += 1;
    if (processedSinceCheckpoint >= settings.maxCheckpointCount) writeCheckpoint();
  };

  const park = (message: Message, reason: string): void => {
    const metadata = Buffer.from(JSON.stringify({ reason }), 'utf8');
    appendSystemEvent(storage, parkedStream, LINK_TYPE, linkTo(message.event), metadata).then(
      () => finish(message),
      (error: unknown) => {
        log.error({ err: error }, 'parking a message failed; it will be retried');
        retries.push(message);
        schedulePump();
      },
    );
  };

  const retry = (message: Message, reason: string): void => {
    if (message.retryCount >= settings.maxRetryCount) {
      park(message, reason || 'Max retry count reached');
      return;
    }
    message.retryCount += 1;
    retries.push(message);
  };

  const takeBack = (id: string): Message | undefined => {
    const entry = inFlight.get(id);
    if (!entry) return undefined;
    inFlight.delete(id);
    entry.consumer.inFlight -= 1;
    return entry.message;
  };

  const leave = (consumer: Consumer): void => {
    const index = consumers.indexOf(consumer);
    if (index < 0) return;
    consumers.splice(index, 1);
    for (const [id, entry] of inFlight)
      if (entry.consumer === consumer) retry(takeBack(id)!, 'Client disconnected');
    schedulePump();
  };

  const unsubscribe = storage.onCommit((events) => {
    if (!caughtUp) return;
    if (isAll || events.some((event) => event.streamName === stream)) {
      caughtUp = false;
      schedulePump();
    }
  });

  // A group that starts at the end must not move that end on a restart before its first checkpoint.
  if (!checkpointed && settings.startFrom === 'end') writeCheckpoint();

  return {
    config,
    join(link) {
      if (stopped) return null;
      if (settings.maxSubscriberCount > 0 && consumers.length >= settings.maxSubscriberCount) return null;
      const consumer: Consumer = { link, inFlight: 0, delivered: 0 };
      consumers.push(consumer);
      schedulePump();
      return consumer;
    },
    leave,
    ack(ids) {
      for (const id of ids) {
        const message = takeBack(id);
        if (message) finish(message);
      }
      schedulePump();
    },
    nack(ids, action, reason) {
      if (action === 'stop') {
        // EventStoreDB stops the subscription: every consumer is dropped and their messages go back.
        for (const consumer of [...consumers]) {
          leave(consumer);
          consumer.link.drop('dropped');
        }
        return;
      }
      for (const id of ids) {
        const message = takeBack(id);
        if (!message) continue;
        if (action === 'park') park(message, reason);
        else if (action === 'skip') finish(message);
        else retry(message, reason);
      }
      schedulePump();
    },
    replayParked(stopAt) {
      const view = storage.viewStream(parkedStream);
      if (view.kind !== 'present') return;
      let revision = Math.max(view.minRevision, replayedUpTo ?? 0);
      const end =
        stopAt === undefined ? view.lastRevision : Math.min(view.lastRevision, revision + stopAt - 1);
      while (revision <= end) {
        const page = storage.readStream(
          view,
          parkedStream,
          revision,
          true,
          Math.min(512, end - revision + 1),
        );
        if (page.length === 0) break;
        for (const link of page) {
          revision = link.revision + 1;
          const event = link.type === LINK_TYPE ? resolveLink(storage, link) : undefined;
          if (!event) continue;
          const key = isAll ? event.position : event.revision;
          replaying += 1;
          retries.push({ event, key, id: idOf(event), retryCount: 0, replayed: true });
        }
      }
      replayedUpTo = revision;
      truncateReplayed();
      schedulePump();
    },
    info() {
      const parked = storage.viewStream(parkedStream);
      const seconds = Math.max(1, (Date.now() - startedAt) / 1000);
      return {
        status: caughtUp && buffer.length === head ? 'Live' : 'Behind',
        connections: consumers.map((consumer) => ({
          from: consumer.link.from,
          connectionName: consumer.link.connectionName,
          delivered: consumer.delivered,
          inFlight: consumer.inFlight,
          availableSlots: Math.max(0, consumer.link.bufferSize - consumer.inFlight),
        })),
        delivered,
        averagePerSecond: delivered / seconds,
        lastCheckpoint: lastCheckpoint === undefined ? '' : formatKey(stream, lastCheckpoint),
        lastKnown: lastRead < 0 ? '' : formatKey(stream, lastRead),
        readBufferCount: caughtUp ? 0 : buffer.length - head,
        liveBufferCount: caughtUp ? buffer.length - head : 0,
        retryBufferCount: retries.length,
        inFlight: inFlight.size,
        parkedCount: parked.kind === 'present' ? parked.lastRevision - parked.minRevision + 1 : 0,
      };
    },
    tick(now) {
      if (stopped) return;
      let expired = false;
      for (const [id, entry] of inFlight) {
        // Entries are in send order and share one timeout, so the first one not yet due ends the scan.
        if (entry.deadline > now) break;
        retry(takeBack(id)!, 'Message timed out');
        expired = true;
      }
      if (expired) schedulePump();
      if (
        now - lastCheckpointAt >= settings.checkpointAfterMs &&
        processedSinceCheckpoint >= settings.minCheckpointCount
      )
        writeCheckpoint();
    },
    async stop(reason, checkpoint) {
      if (checkpoint) {
        await checkpointing;
        writeCheckpoint();
        await checkpointing;
      }
      stopped = true;
      unsubscribe();
      for (const consumer of consumers.splice(0)) consumer.link.drop(reason);
    },
  };
}
