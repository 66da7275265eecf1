// Product leases against a real node: taken, renewed, split between live reactors, handed over on a
// clean stop, taken over from a dead one, and never led by two at the same moment.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  appendToStream,
  BACKWARDS,
  connectClient,
  END,
  lastEvent,
  readStream,
  type StoreClient,
} from '../../src/eventstore/store.ts';
import { createLogger } from '../../src/logger.ts';
import { LEASE_TAKEN, leaseStream, split, startLeases, type Leases } from '../../src/runtime/leases.ts';
import { eventually } from '../api/harness.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';

const logger = createLogger(process.env.TEST_LOG ?? 'silent');
const PRODUCTS = ['BTC-USD', 'ETH-USD', 'SOL-USD', 'XRP-USD'];
const FAST = { ttlMs: 600, renewEveryMs: 200, tickMs: 100 };
const HOLDER = join(import.meta.dirname, 'leaseHolder.ts');

let store: TestStore;
const running: Leases[] = [];
const clients: StoreClient[] = [];

beforeEach(async () => {
  store = await startTestStore();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((leases) => leases.stop()));
  await Promise.all(clients.splice(0).map((client) => client.dispose()));
  await store.stop();
});

/** A reactor's leases on a client of its own, so that it can die alone. */
async function reactor(
  holder: string,
  timing: typeof FAST = FAST,
): Promise<{ leases: Leases; client: StoreClient }> {
  const client = connectClient(store.connectionString);
  clients.push(client);
  const leases = await startLeases({ client, products: PRODUCTS, logger, holder, ...timing });
  running.push(leases);
  return { leases, client };
}

/** Who the store says holds each product's lease, from its newest event. */
async function holders(): Promise<Map<string, { type: string; holder: string }>> {
  const found = new Map<string, { type: string; holder: string }>();
  for (const product of PRODUCTS) {
    for await (const event of readStream(store.client, leaseStream(product), {
      direction: BACKWARDS,
      fromRevision: END,
      maxCount: 1,
    })) {
      found.set(product, { type: event.type, holder: (event.data as { holder: string }).holder });
    }
  }
  return found;
}

/** Samples who leads each product every few ms; `overlaps` counts moments two led the same product. */
function watchOverlaps(reactors: Leases[]): { overlaps: string[]; stop: () => void } {
  const overlaps: string[] = [];
  const timer = setInterval(() => {
    for (const product of PRODUCTS) {
      const leaders = reactors.filter((leases) => leases.leads(product));
      if (leaders.length > 1)
        overlaps.push(`${product}: ${leaders.map((leases) => leases.holder).join(', ')}`);
    }
  }, 5);
  return { overlaps, stop: () => clearInterval(timer) };
}

it('deals sorted products round-robin to sorted members', () => {
  expect([...split(['B', 'A', 'C'], ['y', 'x'])]).toEqual([
    ['A', 'x'],
    ['B', 'y'],
    ['C', 'x'],
  ]);
});

it('given a lone reactor, it takes every lease at once and keeps renewing them', async () => {
  const { leases } = await reactor('r1');
  expect(leases.held()).toEqual(PRODUCTS);
  expect(PRODUCTS.every((product) => leases.leads(product))).toBe(true);
  const first = await holders();
  expect([...first.values()].every((lease) => lease.holder === 'r1' && lease.type === LEASE_TAKEN)).toBe(
    true,
  );
  await eventually(async () =>
    [...(await holders()).values()].every((lease) => lease.type === 'ReactorLeaseRenewed') ? true : undefined,
  );
});

it('given a second reactor, they split the products evenly, never both leading one, and a clean stop hands its share over', async () => {
  const { leases: one } = await reactor('r1');
  const { leases: two } = await reactor('r2');
  const watch = watchOverlaps([one, two]);
  await eventually(() => (one.held().length === 2 && two.held().length === 2 ? true : undefined));
  expect(new Set([...one.held(), ...two.held()])).toEqual(new Set(PRODUCTS));
  const given = two.held();
  const stores = await holders();
  for (const product of given) expect(stores.get(product)?.holder).toBe('r2');

  await two.stop();
  await eventually(() => (one.held().length === PRODUCTS.length ? true : undefined));
  watch.stop();
  expect(watch.overlaps).toEqual([]);
  const after = await holders();
  for (const product of given) expect(after.get(product)).toEqual({ type: LEASE_TAKEN, holder: 'r1' });
});

it('given a reactor killed -9 holding leases, the survivor takes them over once they expire', async () => {
  const { leases: one } = await reactor('r1');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      HOLDER,
      store.connectionString,
      'r2',
      ...[FAST.ttlMs, FAST.renewEveryMs, FAST.tickMs].map(String),
      ...PRODUCTS,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await eventually(
    () => (one.held().length === 2 && /held \S+,\S+\n$/.test(output) ? true : undefined),
    20_000,
  );
  const orphaned = PRODUCTS.filter((product) => !one.held().includes(product));
  const watch = watchOverlaps([one]);
  child.kill('SIGKILL');
  await exited;
  await eventually(() => (one.held().length === PRODUCTS.length ? true : undefined));
  watch.stop();
  const after = await holders();
  for (const product of orphaned) expect(after.get(product)).toEqual({ type: LEASE_TAKEN, holder: 'r1' });
});

it('given a lease taken from under its holder, the holder lets go rather than overwrite it, and takes it again only once it expires', async () => {
  // A TTL long enough that the moment r1 has let go cannot slip between two looks on a loaded machine.
  const { leases } = await reactor('r1', { ttlMs: 3_000, renewEveryMs: 200, tickMs: 100 });
  const product = PRODUCTS[0]!;
  // Another writer at the revision r1 last wrote (retried should r1 renew in between): r1's next
  // renewal expects that same revision and is refused.
  for (;;) {
    const revision = (await lastEvent(store.client, leaseStream(product)))?.revision ?? -1n;
    const taken = await appendToStream(
      store.client,
      leaseStream(product),
      { type: LEASE_TAKEN, data: { holder: 'intruder', product, ttlMs: 600 } },
      { expectedRevision: revision },
    )
      .then(() => true)
      .catch(() => false);
    if (taken) break;
  }
  // Let go: no longer leading it nor counting it as held (a late renewal alone only stops it leading).
  await eventually(() => (leases.leads(product) || leases.held().includes(product) ? undefined : true));
  expect((await holders()).get(product)?.holder).toBe('intruder');
  // The intruder never renews: once its lease expires, the split's owner (r1, alone) takes it again.
  await eventually(() => (leases.leads(product) ? true : undefined));
  expect((await holders()).get(product)).toEqual({ type: LEASE_TAKEN, holder: 'r1' });
});
