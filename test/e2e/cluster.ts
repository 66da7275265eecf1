// pricealert deployed in roles, as separate processes on one machine: one `pricealert store`, API
// replicas, reactors and feed connectors (`serve --role …`), the feeds on a local Coinbase-protocol
// feed. Shared by the roles test and the roles benchmark.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signToken } from '../../src/api/auth.ts';
import { BACKWARDS, connectClient, END, readStream, type StoreClient } from '../../src/eventstore/store.ts';
import { LEASE_TAKEN, leaseStream } from '../../src/runtime/leases.ts';
import { startFakeCoinbase, type FakeCoinbase } from '../feeds/fakeCoinbase.ts';
import { serve, storeProcess, type Served } from './process.ts';

export const SECRET = 'roles-test-secret-0123456789abcdef';
export const PRODUCTS = ['BTC-USD', 'ETH-USD'];

export interface Cluster {
  coinbase: FakeCoinbase;
  store: Served;
  /** The test's own client of the store. */
  client: StoreClient;
  apis: Served[];
  reactors: Served[];
  feeds: Served[];
  token(userId: string): Promise<string>;
  /** Starts one more `serve --role <role>` process on the same store and feed. */
  add(role: 'api' | 'reactor' | 'feed'): Promise<Served>;
  /** Kills (SIGKILL) whatever still runs and removes the data dirs. */
  stop(): Promise<void>;
}

export interface ClusterOptions {
  apis?: number;
  reactors?: number;
  feeds?: number;
  /** Added to every `serve` process's environment. */
  env?: Record<string, string>;
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const dirs: string[] = [];
  const dir = (name: string): string => {
    const path = mkdtempSync(join(tmpdir(), `pricealert-roles-${name}-`));
    dirs.push(path);
    return path;
  };
  const coinbase = await startFakeCoinbase({ heartbeatMs: 500 });
  const store = await storeProcess(dir('store'));
  const client = connectClient(store.url);
  const env = {
    EVENTSTORE_URL: store.url,
    PRICEALERT_JWT_SECRET: SECRET,
    PRICEALERT_PRODUCTS: PRODUCTS.join(','),
    PRICEALERT_WINDOWS: '1m,10m',
    PRICEALERT_USER_RATE: '1000,1000',
    COINBASE_WS_URL: coinbase.url,
    ...(process.env.ROLES_LOG ? { LOG_LEVEL: process.env.ROLES_LOG } : {}),
    ...options.env,
  };
  const add = (role: 'api' | 'reactor' | 'feed'): Promise<Served> =>
    serve(dir(role), { ...env, ...(role === 'feed' ? { PRICEALERT_FEED: 'coinbase' } : {}) }, [
      '--role',
      role,
    ]);
  const start = (role: 'api' | 'reactor' | 'feed', count: number) =>
    Promise.all(Array.from({ length: count }, () => add(role)));
  // Reactors first, so that the API replicas find the products led.
  const reactors = await start('reactor', options.reactors ?? 2);
  const [apis, feeds] = await Promise.all([
    start('api', options.apis ?? 2),
    start('feed', options.feeds ?? 2),
  ]);
  const added: Served[] = [];
  const secret = new TextEncoder().encode(SECRET);
  return {
    coinbase,
    store,
    client,
    apis,
    reactors,
    feeds,
    token: (userId) => signToken(secret, { userId, role: 'user' }, 3600),
    async add(role) {
      const served = await add(role);
      added.push(served);
      return served;
    },
    async stop() {
      const all = [...apis, ...reactors, ...feeds, ...added, store].filter(
        (served) => served.process.exitCode === null && served.process.signalCode === null,
      );
      for (const served of all) served.process.kill('SIGKILL');
      await Promise.all(all.map((served) => served.exited));
      await client.dispose();
      await coinbase.close();
      for (const path of dirs) rmSync(path, { recursive: true, force: true });
    },
  };
}

export interface LeaseHolder {
  type: string;
  holder: string;
  /** The holder's process id (holders are `host:pid:random`). */
  pid: number;
  /** When the holder took the lease (its ReactorLeaseTaken), if the stream still keeps that event. */
  takenAt: Date | undefined;
}

/** Who holds each product's lease, from the newest events of its stream. */
export async function leaseHolders(client: StoreClient): Promise<Map<string, LeaseHolder>> {
  const holders = new Map<string, LeaseHolder>();
  for (const product of PRODUCTS) {
    for await (const event of readStream(client, leaseStream(product), {
      direction: BACKWARDS,
      fromRevision: END,
      maxCount: 16,
    })) {
      if (!event.isJson) continue;
      const holder = (event.data as { holder: string }).holder;
      const newest = holders.get(product);
      if (!newest) {
        const pid = Number(holder.split(':')[1]);
        holders.set(product, { type: event.type, holder, pid, takenAt: undefined });
      }
      const lease = holders.get(product)!;
      if (lease.holder === holder && !lease.takenAt && event.type === LEASE_TAKEN)
        lease.takenAt = event.created;
    }
  }
  return holders;
}
