// Which products a reactor decides when several run: one lease per product, kept in the store and
// written only with expected revisions, so that at most one live reactor holds a product at a time.
//
// - The lease of product P is the stream `reactor-lease-P`; its newest event says who holds it:
//   ReactorLeaseTaken / ReactorLeaseRenewed `{ holder, product, ttlMs }`, or ReactorLeaseReleased.
//   The holder renews it every `renewEveryMs` with the revision it wrote last; anyone else can take it
//   with the revision they saw once it is released, or once its revision has not moved for `ttlMs`.
// - Expiry is judged on each reactor's own clock from when it first saw a revision, never by comparing
//   clocks: a holder counts its lease from when it sent the renewal, so it stops deciding before any
//   other reactor can think the lease expired. A lapse costs only a pause: alert changes are appended
//   with expected revisions, so even a holder that kept writing past its lease (a long GC pause) would
//   write nothing twice.
// - Live reactors announce themselves every `renewEveryMs` in the stream `reactor-members`
//   (ReactorMemberAlive, ReactorMemberLeft on a clean stop). Each reactor works out the same split —
//   the products sorted, dealt round-robin to the live members sorted — takes the free leases the
//   split gives it, and releases those it gives to another, which takes them at its next tick.
// - A dead reactor's leases stop moving: after `ttlMs` its share is dealt to the others and taken.
//   With a tick of 500 ms and a TTL of 3 s a product is taken over at most ~4 s after its holder died.
// - Another `kind` of work leases its own names apart: kind `webhooks` writes `webhooks-lease-P`,
//   `webhooks-members`, WebhooksLeaseTaken… (the webhook workers' shards, src/webhooks/worker.ts).
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { StoreConflict } from '../eventstore/errors.ts';
import {
  appendToStream,
  BACKWARDS,
  END,
  NO_STREAM,
  readStream,
  readStreamMetadata,
  writeStreamMetadata,
  type StoreClient,
} from '../eventstore/store.ts';
import type { Logger } from '../logger.ts';

/** Which products a reactor decides; it follows the others (see reactor.ts). */
export interface Leadership {
  leads(product: string): boolean;
  /** Calls `listener` whenever `leads` may answer differently; returns the unsubscribe. */
  onChange(listener: () => void): () => void;
}

/** A reactor on its own: it decides every product (`pricealert serve` with every role). */
export const everyProduct: Leadership = { leads: () => true, onChange: () => () => undefined };

export interface Leases extends Leadership {
  /** This reactor's id in the lease streams: `host:pid:random`. */
  readonly holder: string;
  /** The products it has leases for, sorted. */
  readonly products: readonly string[];
  /** The products whose lease this reactor holds now, sorted. */
  held(): string[];
  /** Releases every lease held and says this reactor left, so the others take over at once. */
  stop(): Promise<void>;
}

export interface LeaseOptions {
  client: StoreClient;
  products: readonly string[];
  logger: Logger;
  /** How long a lease lasts without renewal (ms). Default 3000. */
  ttlMs?: number;
  /** How often a held lease is renewed and presence announced (ms). Default 1000. */
  renewEveryMs?: number;
  /** How often the leases and members are read (ms). Default 500. */
  tickMs?: number;
  /** Default `host:pid:random`. */
  holder?: string;
  /** Monotonic milliseconds. */
  now?: () => number;
  /** Names the lease streams and events (above). Default `reactor`. */
  kind?: string;
  /**
   * Called when this holder gives a lease to another (or stops), after `leads` has turned false and
   * before the release is written: the taker starts once the work under way has finished.
   */
  drain?: (product: string) => Promise<void>;
}

export const leaseStream = (product: string, kind = 'reactor'): string => `${kind}-lease-${product}`;
const membersStream = (kind: string): string => `${kind}-members`;
/** The event types of a kind's leases: `ReactorLeaseTaken`… for reactors. */
const eventTypes = (kind: string) => {
  const prefix = kind.charAt(0).toUpperCase() + kind.slice(1);
  return {
    taken: `${prefix}LeaseTaken`,
    renewed: `${prefix}LeaseRenewed`,
    released: `${prefix}LeaseReleased`,
    alive: `${prefix}MemberAlive`,
    left: `${prefix}MemberLeft`,
  };
};
export const LEASE_TAKEN = eventTypes('reactor').taken;
/** How many recent member events are read each tick: enough for every member's latest at ~20 members. */
const MEMBERS_READ = 64;

/** The newest event of a lease stream, and when this reactor first saw that revision. */
interface Observed {
  /** `undefined`: no lease was ever written. */
  revision: bigint | undefined;
  holder: string | undefined;
  released: boolean;
  seenAt: number;
}

interface Held {
  revision: bigint;
  /** When the write that made `revision` was sent: the lease runs from there. */
  sentAt: number;
}

/** The split every live reactor works out alike: sorted products dealt round-robin to sorted members. */
export function split(products: readonly string[], members: readonly string[]): Map<string, string> {
  const sorted = [...members].sort();
  return new Map(
    [...products].sort().map((product, index) => [product, sorted[index % sorted.length]!] as const),
  );
}

async function newest(
  client: StoreClient,
  stream: string,
  maxCount: number,
): Promise<{ type: string; revision: bigint; holder: string | undefined }[]> {
  const events: { type: string; revision: bigint; holder: string | undefined }[] = [];
  for await (const event of readStream(client, stream, {
    direction: BACKWARDS,
    fromRevision: END,
    maxCount,
  })) {
    const holder = event.isJson ? (event.data as { holder?: unknown }).holder : undefined;
    events.push({
      type: event.type,
      revision: event.revision,
      holder: typeof holder === 'string' ? holder : undefined,
    });
  }
  return events;
}

/** Keeps a stream to its newest `maxCount` events, as the checkpoint stream is kept. */
async function keepNewest(client: StoreClient, stream: string, maxCount: number): Promise<void> {
  const metadata = await readStreamMetadata(client, stream);
  if (metadata?.maxCount !== maxCount) await writeStreamMetadata(client, stream, { ...metadata, maxCount });
}

export async function startLeases(options: LeaseOptions): Promise<Leases> {
  const { client } = options;
  const kind = options.kind ?? 'reactor';
  const memberStream = membersStream(kind);
  const streamOf = (product: string): string => leaseStream(product, kind);
  const types = eventTypes(kind);
  const ttl = options.ttlMs ?? 3_000;
  const renewEvery = options.renewEveryMs ?? 1_000;
  const now = options.now ?? (() => performance.now());
  const holder = options.holder ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const log = options.logger.child({ component: 'leases', holder });
  const products = [...new Set(options.products)].sort();
  const observed = new Map<string, Observed>();
  const held = new Map<string, Held>();
  /** Each member's newest event revision, and when this reactor saw it move. */
  const members = new Map<string, { revision: bigint; seenAt: number; left: boolean }>();
  const listeners = new Set<() => void>();
  let announcedAt = -Infinity;
  let leading = new Set<string>();

  const leads = (product: string): boolean => {
    const lease = held.get(product);
    return lease !== undefined && now() < lease.sentAt + ttl;
  };
  /** Tells the listeners when the products led have changed, whatever the reason. */
  const notify = (): void => {
    const next = new Set(products.filter(leads));
    if (next.size === leading.size && [...next].every((product) => leading.has(product))) return;
    leading = next;
    for (const listener of listeners) {
      try {
        listener();
      } catch (error) {
        log.warn({ err: error }, 'a leadership listener failed');
      }
    }
  };

  const write = async (
    stream: string,
    type: string,
    expectedRevision: bigint | typeof NO_STREAM,
    product?: string,
  ) =>
    appendToStream(
      client,
      stream,
      { type, data: { holder, ...(product ? { product, ttlMs: ttl } : {}) } },
      { expectedRevision },
    );

  const announce = async (): Promise<void> => {
    if (now() - announcedAt < renewEvery) return;
    announcedAt = now();
    await appendToStream(client, memberStream, { type: types.alive, data: { holder } });
  };

  const readMembers = async (): Promise<string[]> => {
    const at = now();
    const seen = new Set<string>();
    for (const event of await newest(client, memberStream, MEMBERS_READ)) {
      if (!event.holder || seen.has(event.holder)) continue;
      seen.add(event.holder);
      const known = members.get(event.holder);
      if (known?.revision !== event.revision)
        members.set(event.holder, { revision: event.revision, seenAt: at, left: event.type === types.left });
    }
    const live = [...members]
      .filter(([, member]) => !member.left && at - member.seenAt < ttl)
      .map(([id]) => id);
    return live.includes(holder) ? live : [...live, holder];
  };

  const readLease = async (product: string): Promise<Observed> => {
    const [event] = await newest(client, streamOf(product), 1);
    const before = observed.get(product);
    if (before && before.revision === event?.revision) return before;
    const lease: Observed = {
      revision: event?.revision,
      holder: event?.holder,
      released: event?.type === types.released,
      seenAt: now(),
    };
    observed.set(product, lease);
    return lease;
  };

  const renew = async (product: string, lease: Held): Promise<void> => {
    const sentAt = now();
    const result = await write(streamOf(product), types.renewed, lease.revision, product);
    held.set(product, { revision: result.revision, sentAt });
  };

  const take = async (product: string, lease: Observed): Promise<void> => {
    const sentAt = now();
    if (lease.revision === undefined) await keepNewest(client, streamOf(product), 16);
    const result = await write(streamOf(product), types.taken, lease.revision ?? NO_STREAM, product);
    held.set(product, { revision: result.revision, sentAt });
    log.info({ product, from: lease.released ? undefined : lease.holder }, 'took the lease');
  };

  const release = async (product: string, lease: Held): Promise<void> => {
    held.delete(product);
    notify();
    await options.drain?.(product);
    await write(streamOf(product), types.released, lease.revision, product);
    log.info({ product }, 'released the lease');
  };

  /** Releases given away while their work drains, apart from the ticks so renewals go on meanwhile. */
  const handing = new Set<Promise<void>>();
  const handOver = async (product: string, lease: Held): Promise<void> => {
    if (!options.drain) return release(product, lease);
    const handed = release(product, lease)
      .catch((error: unknown) =>
        log.warn({ err: error, product }, 'releasing the lease failed; it expires by itself'),
      )
      .finally(() => handing.delete(handed));
    handing.add(handed);
  };

  /** One product's step: keep, give away or take its lease, as the split says. */
  const tend = async (product: string, owner: string): Promise<void> => {
    const lease = await readLease(product);
    const mine = held.get(product);
    if (mine && lease.revision !== mine.revision) {
      held.delete(product);
      log.warn({ product, by: lease.holder }, 'lost the lease');
      return;
    }
    if (mine && owner !== holder) return handOver(product, mine);
    if (mine) {
      if (now() - mine.sentAt >= renewEvery) await renew(product, mine);
      return;
    }
    // Free since `seenAt` when released or never taken; else from the moment it expired.
    const vacantFor =
      lease.revision === undefined || lease.released ? now() - lease.seenAt : now() - lease.seenAt - ttl;
    // The split's owner takes it at once; anyone takes one nobody has taken for a whole TTL.
    if (vacantFor >= 0 && (owner === holder || vacantFor >= ttl)) await take(product, lease);
  };

  const tick = async (): Promise<void> => {
    try {
      await announce();
      const owners = split(products, await readMembers());
      await Promise.all(
        products.map((product) =>
          tend(product, owners.get(product)!).catch((error: unknown) => {
            if (error instanceof StoreConflict) {
              // Another reactor wrote first; the next read says who.
              held.delete(product);
              return;
            }
            log.warn({ err: error, product }, 'tending the lease failed; trying again');
          }),
        ),
      );
    } catch (error) {
      log.warn({ err: error }, 'reading the leases failed; trying again');
    }
    notify();
  };

  await keepNewest(client, memberStream, 256);
  await tick();
  let ticking: Promise<void> | undefined;
  const timer = setInterval(() => {
    ticking ??= tick().finally(() => (ticking = undefined));
  }, options.tickMs ?? 500);

  let stopping: Promise<void> | undefined;
  return {
    holder,
    products,
    leads,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    held: () => products.filter((product) => held.has(product)),
    stop: () =>
      (stopping ??= (async () => {
        clearInterval(timer);
        await ticking;
        await Promise.all([...handing]);
        await Promise.all(
          [...held].map(([product, lease]) =>
            release(product, lease).catch((error: unknown) =>
              log.warn({ err: error, product }, 'releasing the lease failed; it expires by itself'),
            ),
          ),
        );
        await appendToStream(client, memberStream, { type: types.left, data: { holder } }).catch(
          () => undefined,
        );
        listeners.clear();
      })()),
  };
}
