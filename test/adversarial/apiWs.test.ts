// A hostile client over WebSocket: bad documents, protocol violations and floods of subscriptions
// are refused per operation or per connection, and a well-behaved client on the same server carries on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  connect,
  eventually,
  settled,
  startHarness,
  subscribe,
  type Harness,
  type WsConnection,
} from '../api/harness.ts';
import { recordPrices } from '../api/trades.ts';

const PRICE = 'subscription { price(product: "BTC-USD", window: "1m") { last count } }';

let harness: Harness;
let feeder: string;
let trades = 0;

beforeAll(async () => {
  harness = await startHarness({
    connectionInitWaitMs: 500,
    maxOperationsPerSocket: 10,
    maxOperationsPerUser: 15,
    maxAnonymousOperationsPerAddress: 25,
    maxConnectionsPerAddress: 20,
  });
  feeder = await harness.token('feeder-1', 'feeder');
});
afterAll(() => harness?.stop());

/** Records one more BTC-USD trade; its price is the trade's number. */
async function trade(): Promise<string> {
  trades += 1;
  await recordPrices(harness, feeder, [String(1000 + trades)]);
  return String(1000 + trades);
}

/** The outcome of one operation run with the stock client: its results, or the error it ended with. */
async function run(
  connection: WsConnection,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<{ results: unknown[]; error?: unknown }> {
  const results: unknown[] = [];
  try {
    for await (const result of connection.client.iterate({ query, variables })) {
      results.push(result);
      if (!query.trimStart().startsWith('subscription')) continue;
      break;
    }
    return { results };
  } catch (error) {
    return { results, error };
  }
}

const codesOf = (error: unknown): unknown[] =>
  Array.isArray(error)
    ? error.map((item: { extensions?: { code?: string } }) => item.extensions?.code)
    : [error];

/** Whether a price subscription on this connection still gets the next trade. */
async function stillServed(connection: WsConnection): Promise<void> {
  const prices = subscribe<{ price: { last: string } }>(connection.client, PRICE);
  await settled(connection.client);
  const last = await trade();
  while ((await prices.next()).price.last !== last);
  prices.stop();
}

describe('one bad operation is an error for its id; the socket and its other subscriptions live on', () => {
  const aliases = `subscription { ${Array.from({ length: 16 }, (_, index) => `p${index}: price(product: "BTC-USD", window: "1m") { last }`).join(' ')} }`;
  const deep = `{ __schema { types { fields { type ${'{ ofType '.repeat(30)}{ name }${' }'.repeat(30)} } } } }`;
  const cases: [string, string, Record<string, unknown>, string][] = [
    ['16 aliases', aliases, {}, 'LIMIT_EXCEEDED'],
    ['depth', deep, {}, 'LIMIT_EXCEEDED'],
    ['tokens', `{ products ${'__typename '.repeat(2100)} }`, {}, 'LIMIT_EXCEEDED'],
    ['directives', `{ products ${'@skip(if: false) '.repeat(11)} }`, {}, 'LIMIT_EXCEEDED'],
    ['a syntax error', 'subscription { price(', {}, 'GRAPHQL_PARSE_FAILED'],
    ['an unknown field', 'subscription { nope }', {}, 'GRAPHQL_VALIDATION_FAILED'],
    [
      'a bad variable',
      'subscription($w: String!) { price(product: "BTC-USD", window: $w) { last } }',
      { w: 42 },
      'BAD_USER_INPUT',
    ],
    [
      'a missing variable',
      'subscription($w: String!) { price(product: "BTC-USD", window: $w) { last } }',
      {},
      'BAD_USER_INPUT',
    ],
  ];

  it.each(cases)('%s', async (_name, query, variables, code) => {
    const client = connect(harness.wsUrl);
    const prices = subscribe<{ price: { last: string } }>(client.client, PRICE);
    await settled(client.client);
    const outcome = await run(client, query, variables);
    expect(codesOf(outcome.error)).toContain(code);
    // The subscription made before the bad operation still gets the next trade on the same socket.
    const last = await trade();
    while ((await prices.next()).price.last !== last);
    await client.dispose();
  });
});

describe('mutations over WebSocket', () => {
  it('run like over HTTP, with the token of the connection', async () => {
    const token = await harness.token('wendy');
    const client = connect(harness.wsUrl, token);
    const outcome = await run(
      client,
      'mutation { createAlert(input: { product: "BTC-USD", direction: ABOVE, threshold: "1" }) { id status } }',
    );
    expect(outcome.error).toBeUndefined();
    expect(outcome.results).toEqual([
      { data: { createAlert: { id: expect.any(String), status: 'ACTIVE' } } },
    ]);
    await client.dispose();
  });
});

/** A raw socket speaking graphql-transport-ws by hand, to break the protocol on purpose. */
async function rawSocket(): Promise<{
  socket: WebSocket;
  closed: Promise<number>;
  messages: { type: string; id?: string; payload?: unknown }[];
}> {
  const socket = new WebSocket(harness.wsUrl, 'graphql-transport-ws');
  const messages: { type: string; id?: string; payload?: unknown }[] = [];
  socket.on('message', (data) => messages.push(JSON.parse(String(data)) as (typeof messages)[number]));
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  return { socket, closed, messages };
}

async function initialised(): Promise<Awaited<ReturnType<typeof rawSocket>>> {
  const raw = await rawSocket();
  raw.socket.send(JSON.stringify({ type: 'connection_init' }));
  await eventually(() => raw.messages.find((message) => message.type === 'connection_ack'));
  return raw;
}

describe('protocol violations close only the offending socket, with graphql-ws close codes', () => {
  let bystander: WsConnection;
  beforeAll(() => {
    bystander = connect(harness.wsUrl);
  });
  afterAll(() => bystander?.dispose());

  const violations: [string, () => Promise<number>][] = [
    [
      'bad JSON → 4400',
      async () => {
        const raw = await initialised();
        raw.socket.send('{"type":');
        return raw.closed;
      },
    ],
    [
      'an unknown message type → 4400',
      async () => {
        const raw = await initialised();
        raw.socket.send(JSON.stringify({ type: 'gimme', id: '1' }));
        return raw.closed;
      },
    ],
    [
      'subscribe before connection_init → 4401',
      async () => {
        const raw = await rawSocket();
        raw.socket.send(JSON.stringify({ type: 'subscribe', id: '1', payload: { query: PRICE } }));
        return raw.closed;
      },
    ],
    [
      'a second connection_init → 4429',
      async () => {
        const raw = await initialised();
        raw.socket.send(JSON.stringify({ type: 'connection_init' }));
        return raw.closed;
      },
    ],
    [
      'a duplicate operation id → 4409',
      async () => {
        const raw = await initialised();
        raw.socket.send(JSON.stringify({ type: 'subscribe', id: 'x', payload: { query: PRICE } }));
        raw.socket.send(JSON.stringify({ type: 'subscribe', id: 'x', payload: { query: PRICE } }));
        return raw.closed;
      },
    ],
    ['no connection_init in time → 4408', async () => (await rawSocket()).closed],
  ];

  it.each(violations)('%s', async (name, violate) => {
    expect(await violate()).toBe(Number(/→ (\d+)/.exec(name)![1]));
    await stillServed(bystander);
  });
});

describe('limits on operations and connections', () => {
  it('refuses the operation over the per-connection limit with LIMIT_EXCEEDED and keeps the others', async () => {
    const client = connect(harness.wsUrl);
    const streams = Array.from({ length: 10 }, (_, index) =>
      subscribe(
        client.client,
        `subscription { price(product: "BTC-USD", window: "1m") { last } } # ${index}`,
      ),
    );
    await settled(client.client).catch(() => {});
    const over = await run(client, PRICE);
    expect(codesOf(over.error)).toEqual(['LIMIT_EXCEEDED']);
    const last = await trade();
    for (const stream of streams)
      while (((await stream.next()) as { price: { last: string } }).price.last !== last);
    await client.dispose();
  });

  it('counts a user’s operations over all their connections', async () => {
    const token = await harness.token('ursula');
    const first = connect(harness.wsUrl, token);
    const second = connect(harness.wsUrl, token);
    for (let index = 0; index < 9; index += 1) subscribe(first.client, `${PRICE} # ${index}`);
    await settled(first.client);
    for (let index = 0; index < 6; index += 1) subscribe(second.client, `${PRICE} # ${index}`);
    const over = await run(second, PRICE);
    expect(codesOf(over.error)).toEqual(['LIMIT_EXCEEDED']);
    expect(String((over.error as { message: string }[])[0]!.message)).toContain('per user');
    await first.dispose();
    // Room again once the first connection is gone.
    await eventually(async () => ((await run(second, '{ products }')).error ? undefined : true));
    await second.dispose();
  });

  it('counts anonymous operations per address, and connections per address', async () => {
    const clients = Array.from({ length: 3 }, () => connect(harness.wsUrl));
    for (const client of clients)
      for (let index = 0; index < 9; index += 1) subscribe(client.client, `${PRICE} #${index}`);
    await Promise.all(clients.slice(0, 2).map((client) => settled(client.client)));
    const over = await run(clients[2]!, '{ products }');
    expect(codesOf(over.error)).toEqual(['LIMIT_EXCEEDED']);

    const more = Array.from({ length: 20 }, () => connect(harness.wsUrl));
    const refused = await Promise.race(more.map((client) => client.closed));
    expect(refused.code).toBe(4429);
    expect(refused.reason).toContain('LIMIT_EXCEEDED');
    await Promise.all([...clients, ...more].map((client) => client.dispose()));
    // A signed-in client from the same address is served again once the flood is gone.
    const after = connect(harness.wsUrl, await harness.token('paula'));
    await stillServed(after);
    await after.dispose();
  });
});
