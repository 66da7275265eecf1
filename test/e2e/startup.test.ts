// Ready before answering, and a limit that holds: `serve` against a store with 100k alerts answers
// /ready with 503 and projection reads with UNAVAILABLE until it has caught up, never with a partial
// list; and 200 parallel creates for one user spread over two API processes leave exactly 1000 ACTIVE.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { signToken } from '../../src/api/auth.ts';
import { recordTrades } from '../../src/domain/trades.ts';
import { codes, eventually, gql } from '../api/harness.ts';
import { seedAlerts } from '../helpers/seed.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';
import { freePort, killAllServes, serve, type Served } from './process.ts';

const SECRET = 'startup-test-secret-0123456789';
const dirs: string[] = [];
let store: TestStore;

beforeAll(async () => {
  store = await startTestStore();
});
afterAll(async () => {
  await killAllServes();
  await store?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A `serve` of its own data dir on the shared store, with a secret every test token is signed with. */
function startServe(port: string): Promise<Served> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pricealert-startup-'));
  dirs.push(dataDir);
  return serve(dataDir, {
    PORT: port,
    EVENTSTORE_URL: store.connectionString,
    PRICEALERT_JWT_SECRET: SECRET,
    // 200 creates at once are the point here, not the rate limit.
    PRICEALERT_USER_RATE: '1000,1000',
  });
}

const tokenFor = (userId: string) =>
  signToken(new TextEncoder().encode(SECRET), { userId, role: 'user' }, 3600);
const CREATE =
  'mutation($t: Decimal!) { createAlert(input: { product: "BTC-USD", direction: ABOVE, threshold: $t, measure: LAST }) { id } }';

it('answers nothing from half-built projections while it catches up with 100k alerts', async () => {
  await seedAlerts(store.client, 'big', 1000);
  for (let user = 0; user < 99; user += 1) await seedAlerts(store.client, `crowd-${user}`, 1000);
  const big = await tokenFor('big');
  const port = String(await freePort());
  const base = `http://127.0.0.1:${port}`;
  let printed = false;
  const starting = startServe(port).then((server) => {
    printed = true;
    return server;
  });

  const seen = { starting: 0, ready: 0 };
  for (;;) {
    const ready = await fetch(`${base}/ready`).catch(() => undefined);
    if (!ready) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      continue;
    }
    const [alerts, created] = await Promise.all([
      gql(`${base}/graphql`, '{ alerts(status: ACTIVE) { id } }', {}, big),
      gql(`${base}/graphql`, CREATE, { t: '5' }, big),
    ]);
    // A request in flight across the moment of readiness may see either side; each answer is whole.
    if (ready.status === 503) {
      const body = (await ready.json()) as { reason?: string };
      expect(body.reason).toMatch(/catching up/);
      seen.starting += 1;
    } else {
      expect(ready.status).toBe(200);
      seen.ready += 1;
    }
    if (alerts.errors)
      expect({ status: alerts.status, errors: alerts.errors }).toMatchObject({
        status: 503,
        errors: [{ extensions: { code: 'UNAVAILABLE' } }],
      });
    else expect(alerts.data!.alerts).toHaveLength(1000);
    expect(codes(created)).toEqual([alerts.errors ? 'UNAVAILABLE' : 'LIMIT_EXCEEDED']);
    if (ready.status === 200 && !alerts.errors && seen.ready > 2) break;
  }
  expect(seen.starting).toBeGreaterThan(0);
  await starting;
  expect(printed).toBe(true);
  expect((await fetch(`${base}/health`)).status).toBe(200);
}, 240_000);

it('holds 1000 active alerts per user against 200 parallel creates on two API processes', async () => {
  await seedAlerts(store.client, 'lim', 900);
  const [first, second] = await Promise.all([
    startServe(String(await freePort())),
    startServe(String(await freePort())),
  ]);
  const lim = await tokenFor('lim');
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, index) =>
      gql((index % 2 ? first : second)!.url, CREATE, { t: String(10 + index) }, lim),
    ),
  );
  const outcome = results.map((result) => (result.errors ? codes(result)[0] : 'CREATED'));
  // The created alerts whose threshold (10 + index) a trade at 150 reaches.
  const expectedFires = results.filter((result, index) => !result.errors && 10 + index <= 150).length;
  expect(outcome.filter((code) => code === 'CREATED')).toHaveLength(100);
  expect(outcome.filter((code) => code === 'LIMIT_EXCEEDED')).toHaveLength(100);
  for (const server of [first, second]) {
    await eventually(async () => {
      const listed = await gql(server!.url, '{ alerts(status: ACTIVE) { id } }', {}, lim);
      return (listed.data?.alerts as unknown[] | undefined)?.length === 1000 ? true : undefined;
    });
  }

  // Both processes fold the same store into the same trigger log: the same triggers, the same cursors.
  await recordTrades(
    store.client,
    [
      {
        product: 'BTC-USD',
        tradeId: 'lim-1',
        price: '150',
        size: '1',
        side: 'buy',
        time: '2026-11-26T10:00:00Z',
        source: 'test',
      },
    ],
    { products: ['BTC-USD'] },
  );
  const logs = await Promise.all(
    [first, second].map((server) =>
      eventually(async () => {
        const listed = await gql(server!.url, '{ triggers(first: 1000) { cursor alert { id } } }', {}, lim);
        const triggers = listed.data?.triggers as unknown[] | undefined;
        return triggers && triggers.length > 0 && triggers.length === expectedFires ? triggers : undefined;
      }),
    ),
  );
  expect(logs[0]).toEqual(logs[1]);
}, 240_000);
