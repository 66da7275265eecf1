// The node as a process: durability across restarts and SIGKILL, discovery, hostile bytes on its
// port, `pricealert store`, the data dir's lock and openStore's choice of node.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client as GrpcClient, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { EventStoreDBClient, jsonEvent, type ResolvedEvent } from '@eventstore/db-client';
import { loadConfig } from '../../src/config.ts';
import { openStore } from '../../src/eventstore/connect.ts';
import { createLogger } from '../../src/logger.ts';
import { runCli, type CliRun } from '../helpers/cli.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pricealert-node-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function started(options: Parameters<typeof startTestStore>[0]): Promise<TestStore> {
  const store = await startTestStore(options);
  cleanups.push(() => store.stop());
  return store;
}

async function eventIds(client: EventStoreDBClient, stream: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const resolved of client.readStream(stream) as AsyncIterable<ResolvedEvent>)
    ids.push(resolved.event!.id);
  return ids;
}

describe('durability', () => {
  it('keeps acknowledged events across a clean restart', async () => {
    const dataDir = tempDir();
    const first = await started({ dataDir });
    await first.client.appendToStream('kept', [jsonEvent({ type: 'Kept', data: { n: 1 } })]);
    await first.stop();
    expect(existsSync(join(dataDir, 'node.lock'))).toBe(false);

    const second = await started({ dataDir });
    expect((await eventIds(second.client, 'kept')).length).toBe(1);
    const next = await second.client.appendToStream('kept', jsonEvent({ type: 'Kept', data: { n: 2 } }), {
      expectedRevision: 0n,
    });
    expect(next.nextExpectedRevision).toBe(1n);
  });

  it('keeps every acknowledged append, once, when the node is killed with SIGKILL', async () => {
    const dataDir = tempDir();
    const store = await started({ dataDir });
    const acknowledged: string[] = [];
    const writers = Array.from({ length: 8 }, async (_, writer) => {
      for (let n = 0; n < 40; n += 1) {
        const id = randomUUID();
        await store.client.appendToStream('crash', jsonEvent({ id, type: 'Acked', data: { writer, n } }));
        acknowledged.push(id);
      }
    });
    await Promise.all(writers);
    // Writes still in flight at the kill may or may not survive; acknowledged ones must.
    const inFlight = Array.from({ length: 20 }, () =>
      store.client.appendToStream('crash', jsonEvent({ type: 'Maybe', data: {} })).catch(() => undefined),
    );
    process.kill(store.node.pid, 'SIGKILL');
    await Promise.all(inFlight);
    await store.client.dispose();

    // The lock of the killed node is stale and is taken over.
    const restarted = await started({ dataDir });
    const ids = await eventIds(restarted.client, 'crash');
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining(acknowledged));
  });
});

describe('connecting', () => {
  it('serves gossip so that esdb+discover:// connection strings work', async () => {
    const store = await started({});
    const discovering = EventStoreDBClient.connectionString(
      store.connectionString.replace('esdb://', 'esdb+discover://'),
    );
    cleanups.push(() => discovering.dispose());
    const result = await discovering.appendToStream('discovered', jsonEvent({ type: 'Found', data: {} }));
    expect(result.nextExpectedRevision).toBe(0n);
  });

  it('survives garbage and HTTP/1 requests on its port', async () => {
    const store = await started({});
    const [host, port] = store.connectionString.replace('esdb://', '').replace('?tls=false', '').split(':');
    for (const payload of [
      Buffer.from([0, 1, 2, 255, 254, 7, 7, 7, 42, 0, 0, 0, 9]),
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      Buffer.alloc(70_000, 0xab),
    ]) {
      await new Promise<void>((resolve) => {
        const socket = connect(Number(port), host!, () => socket.end(payload));
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
        socket.resume();
      });
    }
    const result = await store.client.appendToStream('still-alive', jsonEvent({ type: 'Alive', data: {} }));
    expect(result.success).toBe(true);
  });

  it('answers malformed gRPC requests with an error and keeps serving', async () => {
    const store = await started({});
    const raw = new GrpcClient(
      store.connectionString.replace('esdb://', '').replace('?tls=false', ''),
      credentials.createInsecure(),
    );
    cleanups.push(() => raw.close());
    const bytes = (value: Buffer): Buffer => value;
    const unary = (path: string, body: Buffer) =>
      new Promise<number>((resolve) =>
        raw.makeUnaryRequest(path, bytes, bytes, body, (error) => resolve(error?.code ?? 0)),
      );
    const read = (body: Buffer) =>
      new Promise<number>((resolve) => {
        const call = raw.makeServerStreamRequest(
          '/event_store.client.streams.Streams/Read',
          bytes,
          bytes,
          body,
        );
        call.on('data', () => undefined);
        call.on('error', (error: ServiceError) => resolve(error.code));
        call.on('end', () => resolve(0));
      });
    expect(await read(Buffer.alloc(0))).toBe(status.INVALID_ARGUMENT);
    expect(await read(Buffer.from([0xff, 0xff, 0xff, 0x01]))).not.toBe(0);
    expect(await unary('/event_store.client.streams.Streams/Delete', Buffer.alloc(0))).toBe(
      status.INVALID_ARGUMENT,
    );
    expect(
      await unary(
        '/event_store.client.persistent_subscriptions.PersistentSubscriptions/Delete',
        Buffer.alloc(0),
      ),
    ).toBe(status.INVALID_ARGUMENT);
    expect(await unary('/event_store.client.projections.Projections/Delete', Buffer.alloc(0))).toBe(
      status.UNIMPLEMENTED,
    );
    const result = await store.client.appendToStream('still-serving', jsonEvent({ type: 'Alive', data: {} }));
    expect(result.success).toBe(true);
  });

  it('openStore connects to the node that owns the data dir, else starts one', async () => {
    const logger = createLogger('silent');
    const dataDir = tempDir();
    const config = loadConfig({ PRICEALERT_DATA_DIR: dataDir });
    const owner = await openStore(config, logger);
    cleanups.push(() => owner.close());
    expect(owner.embedded).toBeDefined();
    const lock = JSON.parse(readFileSync(join(dataDir, 'node.lock'), 'utf8')) as {
      pid: number;
      connectionString: string;
    };
    expect(lock).toEqual({ pid: owner.embedded!.pid, connectionString: owner.connectionString });

    const guest = await openStore(config, logger);
    cleanups.push(() => guest.close());
    expect(guest.embedded).toBeUndefined();
    expect(guest.connectionString).toBe(owner.connectionString);
    await guest.client.appendToStream('shared', jsonEvent({ type: 'Shared', data: {} }));
    expect(await eventIds(owner.client, 'shared')).toHaveLength(1);

    const remote = await openStore(
      loadConfig({ PRICEALERT_DATA_DIR: tempDir(), EVENTSTORE_URL: owner.connectionString }),
      logger,
    );
    cleanups.push(() => remote.close());
    expect(remote.embedded).toBeUndefined();
    expect(await eventIds(remote.client, 'shared')).toHaveLength(1);
  });

  it('takes over a lock left by a dead process', async () => {
    const dataDir = tempDir();
    writeFileSync(
      join(dataDir, 'node.lock'),
      JSON.stringify({ pid: 2 ** 22 + 12_345, connectionString: 'esdb://127.0.0.1:1?tls=false' }),
    );
    const store = await started({ dataDir });
    expect(JSON.parse(readFileSync(join(dataDir, 'node.lock'), 'utf8'))).toMatchObject({
      pid: store.node.pid,
    });
  });
});

describe('pricealert store', () => {
  function run(args: string[]): CliRun {
    const cli = runCli(args);
    cleanups.push(() => cli.kill());
    return cli;
  }

  it('prints its connection string, refuses a second node on the same data dir and stops on SIGTERM', async () => {
    const dataDir = tempDir();
    const first = run(['store', '--port', '0', '--data', dataDir]);
    const line = (await first.stdout).trim();
    expect(line).toMatch(/^esdb:\/\/127\.0\.0\.1:\d+\?tls=false$/);
    const client = EventStoreDBClient.connectionString(line);
    await client.appendToStream('via-cli', jsonEvent({ type: 'Hello', data: {} }));
    await client.dispose();

    const second = run(['store', '--port', '0', '--data', dataDir]);
    expect(await second.exit).toBe(2);
    expect(second.stderr().trim().split('\n')).toHaveLength(1);
    expect(second.stderr()).toContain('in use');

    first.child.kill('SIGTERM');
    expect(await first.exit).toBe(0);
    expect(existsSync(join(dataDir, 'node.lock'))).toBe(false);
  });
});
