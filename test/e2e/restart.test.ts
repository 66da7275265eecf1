// A cursor outlives the server: after a restart, alertTriggered(after:) resumes exactly where it left off.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { connect, eventually, gql, type Data } from '../api/harness.ts';
import { serve, token, type Served } from './process.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'pricealert-restart-'));
const running: Served[] = [];

afterAll(async () => {
  for (const server of running) if (server.process.exitCode === null) server.process.kill('SIGKILL');
  await Promise.all(running.map((server) => server.exited));
  rmSync(dataDir, { recursive: true, force: true });
});

let tradeNumber = 0;
async function record(url: string, feeder: string, prices: string[]): Promise<void> {
  for (const price of prices) {
    tradeNumber += 1;
    const input = {
      product: 'BTC-USD',
      tradeId: `r${tradeNumber}`,
      price,
      size: '1',
      side: 'buy',
      time: new Date(Date.UTC(2026, 10, 26, 9, 0, tradeNumber)).toISOString(),
    };
    const response = await gql(
      url,
      'mutation($input: RecordTradeInput!) { recordTrade(input: $input) { tradeId } }',
      { input },
      feeder,
    );
    expect(response.errors).toBeUndefined();
  }
}

it('resumes after a restart with exactly the triggers after the cursor, then live ones', async () => {
  const [[frank = ''], [feeder = '']] = await Promise.all([
    token(dataDir, 'frank'),
    token(dataDir, 'feeder-1', '--role', 'feeder'),
  ]);
  const first = await serve(dataDir);
  running.push(first);
  const created = await gql(
    first.url,
    'mutation { createAlert(input: { product: "BTC-USD", direction: ABOVE, threshold: "10", measure: LAST, repeat: true }) { id } }',
    {},
    frank,
  );
  expect(created.errors).toBeUndefined();
  await record(first.url, feeder, ['11', '9', '12']);
  // The reactor fires after the trades are recorded, not while recordTrade answers.
  const triggers = await eventually(async () => {
    const seen = await gql<Data>(first.url, '{ triggers { cursor value } }', {}, frank);
    const list = seen.data!.triggers as { cursor: string; value: string }[];
    return list.length === 2 ? list : undefined;
  });
  expect(triggers.map((trigger) => trigger.value)).toEqual(['11', '12']);
  first.process.kill('SIGTERM');
  expect(await first.exited).toBe(0);

  const second = await serve(dataDir);
  running.push(second);
  await record(second.url, feeder, ['9', '13']);
  const socket = connect(second.url.replace(/^http/, 'ws'), frank);
  const resumed = socket.client.iterate<{ alertTriggered: { value: string } }>({
    query: 'subscription($after: String) { alertTriggered(after: $after) { value } }',
    variables: { after: triggers[0]!.cursor },
  });
  const values: string[] = [];
  for await (const result of resumed) {
    values.push(result.data!.alertTriggered.value);
    if (values.length === 2) await record(second.url, feeder, ['9', '14']);
    if (values.length === 3) break;
  }
  expect(values).toEqual(['12', '13', '14']);
  await socket.dispose();
  second.process.kill('SIGTERM');
  expect(await second.exited).toBe(0);
}, 60_000);
