// Scavenging the embedded node through EventStoreDB's Operations service (raw gRPC): it removes exactly
// what stream reads no longer return, shrinks the file, survives SIGKILL, and never holds up appends
// or subscriptions.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client as GrpcClient, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { END, EventStoreDBClient, START, jsonEvent, type JSONEventType } from '@eventstore/db-client';
import {
  ScavengeEvent,
  followScavenge,
  startScavenge,
  stopScavenge,
  type ScavengeStep,
} from '../../src/eventstore/scavenge.ts';
import {
  CHECKPOINTS,
  liveView,
  onDisk,
  readAll,
  readStream,
  writeCheckpoints,
  writeMixedStreams,
  type Seen,
} from './scavengeStore.ts';
import { runCli } from '../helpers/cli.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function started(options: Parameters<typeof startTestStore>[0] = {}): Promise<TestStore> {
  const store = await startTestStore(options);
  cleanups.push(() => store.stop());
  return store;
}

const BIN = join(import.meta.dirname, '../../bin/pricealert.js');
async function scavenge(store: TestStore, onStep?: (step: ScavengeStep) => void): Promise<ScavengeStep> {
  const answer = await startScavenge(store.connectionString, { threadCount: 1, startFromChunk: 0 });
  expect(answer.result).toBe('started');
  return followScavenge(store.client, answer.scavengeId, onStep);
}

describe('scavenge', () => {
  it('shrinks the file after 200k checkpoints in a $maxCount 1 stream and loses no live event', async () => {
    const store = await started();
    await writeMixedStreams(store.client);
    const earlier = await readAll(store.client);
    await writeCheckpoints(store.client, 200_000);
    // `aged` holds $maxAge 1: its events are hidden from reads a second after they were written.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const before = await liveView(store.client, earlier, [CHECKPOINTS]);
    const lastBefore = before.all[before.all.length - 1]!.position!;
    const bytesBefore = onDisk(store.dataDir);

    const steps: ScavengeStep[] = [];
    const completed = await scavenge(store, (step) => steps.push(step));

    expect(completed.data).toMatchObject({ result: 'Success', error: null });
    expect(steps.map((step) => step.type)).toEqual(
      expect.arrayContaining([
        ScavengeEvent.started,
        ScavengeEvent.streamCompleted,
        ScavengeEvent.spaceReclaimed,
      ]),
    );
    expect(before.streams.get(CHECKPOINTS)).toHaveLength(1);
    for (const [name, events] of before.streams)
      expect(await readStream(store.client, name), name).toEqual(events);
    // $all now shows only what stream reads return, at unchanged positions and in the same order.
    const allAfter = (await readAll(store.client)).filter((event) => event.position! <= lastBefore);
    expect(allAfter).toEqual(before.all);
    expect(allAfter.length).toBeLessThan(2_000);
    expect(onDisk(store.dataDir)).toBeLessThan(bytesBefore / 4);

    const recorded = await readStream(store.client, '$scavenges');
    expect(recorded !== 'deleted' && recorded.length).toBe(2);
  }, 180_000);

  it('leaves the same live events when killed with SIGKILL midway, restarted and run again', async () => {
    const store = await started({ keepData: true });
    cleanups.push(() => store.stop().then(() => undefined));
    await writeMixedStreams(store.client);
    const earlier = await readAll(store.client);
    const bulky = ['checkpoint-a', 'checkpoint-b', 'checkpoint-c', 'checkpoint-d'];
    for (const stream of bulky) await writeCheckpoints(store.client, 20_000, stream);
    const before = await liveView(
      store.client,
      earlier,
      bulky.flatMap((stream) => [stream, `$$${stream}`]),
    );
    const lastBefore = before.all[before.all.length - 1]!.position!;

    const answer = await startScavenge(store.connectionString);
    // Killed as soon as the first stream is done; if the node finished first, the test still holds.
    await new Promise<void>((resolve) => {
      void followScavenge(store.client, answer.scavengeId, (step) => {
        if (step.type === ScavengeEvent.streamCompleted || step.type === ScavengeEvent.completed) {
          process.kill(store.node.pid, 'SIGKILL');
          resolve();
        }
      }).catch(() => undefined);
    });
    await store.client.dispose();

    const restarted = await started({ dataDir: store.dataDir });
    const firstEnd = (await readStream(restarted.client, '$scavenges')) as Seen[];
    expect(firstEnd.length).toBe(2);
    const completed = await scavenge(restarted);
    expect(completed.data).toMatchObject({ result: 'Success' });

    for (const [name, events] of before.streams)
      expect(await readStream(restarted.client, name), name).toEqual(events);
    const allAfter = await readAll(restarted.client);
    expect(allAfter.filter((event) => event.position! <= lastBefore)).toEqual(before.all);
    // A new event still gets a position after every one handed out before the kill.
    const next = await restarted.client.appendToStream(
      'after-restart',
      jsonEvent({ type: 'Noted', data: {} }),
    );
    expect(next.position!.commit).toBeGreaterThan(allAfter[allAfter.length - 1]!.position!);
  }, 180_000);

  it('keeps appends and a live subscription going while it runs', async () => {
    const store = await started();
    await writeCheckpoints(store.client, 60_000);
    const subscription = store.client.subscribeToStream('live', { fromRevision: END });
    cleanups.push(() => subscription.unsubscribe());
    const received: number[] = [];
    const allReceived = (count: number): Promise<void> =>
      new Promise((resolve) => {
        subscription.on('data', ({ event }) => {
          received.push((event!.data as { n: number }).n);
          if (received.length === count) resolve();
        });
      });
    await new Promise<void>((resolve) => subscription.once('confirmation', () => resolve()));

    const answer = await startScavenge(store.connectionString);
    let done = false;
    const completed = followScavenge(store.client, answer.scavengeId).finally(() => (done = true));
    let sent = 0;
    while (!done || sent < 50) {
      await store.client.appendToStream('live', jsonEvent({ type: 'Live', data: { n: sent } }));
      sent += 1;
    }
    const everything = allReceived(sent);
    if (received.length < sent) await everything;
    expect((await completed).data).toMatchObject({ result: 'Success' });
    expect(received).toEqual(Array.from({ length: sent }, (_, n) => n));
  }, 120_000);

  it('answers StartScavenge, StopScavenge and bad options as EventStoreDB does', async () => {
    const store = await started();
    await writeCheckpoints(store.client, 40_000);
    const first = await startScavenge(store.connectionString);
    const second = await startScavenge(store.connectionString);
    expect(second).toEqual({ scavengeId: first.scavengeId, result: 'in_progress' });

    const unknown = await stopScavenge(store.connectionString, randomUUID()).catch(
      (error: ServiceError) => error,
    );
    expect(unknown).toMatchObject({ code: status.NOT_FOUND, details: 'Scavenge id was invalid.' });
    const bad = await startScavenge(store.connectionString, { threadCount: -1 }).catch(
      (error: ServiceError) => error,
    );
    expect(bad).toMatchObject({ code: status.INVALID_ARGUMENT });

    // The node does no other operation: Shutdown and the rest answer UNIMPLEMENTED.
    const raw = new GrpcClient(
      store.connectionString.replace(/^esdb:\/\/|\?.*$/g, ''),
      credentials.createInsecure(),
    );
    const shutdown = await new Promise<ServiceError | null>((resolve) =>
      raw.makeUnaryRequest(
        '/event_store.client.operations.Operations/Shutdown',
        (value: Buffer) => value,
        (value: Buffer) => value,
        Buffer.alloc(0),
        (error) => resolve(error),
      ),
    );
    raw.close();
    expect(shutdown?.code).toBe(status.UNIMPLEMENTED);

    const stopped = await stopScavenge(store.connectionString, first.scavengeId).catch(
      (error: ServiceError) => error,
    );
    const completed = await followScavenge(store.client, first.scavengeId);
    // Stopped, unless it had already finished when the stop arrived (then the id was no longer running).
    if ('result' in stopped) {
      expect(stopped).toEqual({ scavengeId: first.scavengeId, result: 'stopped' });
      expect(completed.data.result).toBe('Stopped');
    } else expect(completed.data.result).toBe('Success');
    expect(await readStream(store.client, CHECKPOINTS)).toHaveLength(1);
  }, 120_000);

  it('forgets the ids of scavenged events, as EventStoreDB does', async () => {
    const store = await started();
    const id = randomUUID();
    await store.client.setStreamMetadata('window', { maxCount: 1 });
    await store.client.appendToStream('window', jsonEvent({ id, type: 'Noted', data: { n: 0 } }));
    await store.client.appendToStream('window', jsonEvent({ type: 'Noted', data: { n: 1 } }));
    // Before the scavenge the hidden event's id is still known: the re-append is answered, not written.
    const replay = await store.client.appendToStream(
      'window',
      jsonEvent({ id, type: 'Noted', data: { n: 0 } }),
    );
    expect(replay.nextExpectedRevision).toBe(0n);
    await store.client.appendToStream('filler', jsonEvent({ type: 'Noted', data: {} }));

    await scavenge(store);
    // After it, the same id with `any` is a new event; with the revision it once followed, a conflict.
    const conflict = await store.client
      .appendToStream('window', jsonEvent({ id, type: 'Noted', data: { n: 0 } }), {
        expectedRevision: 'no_stream',
      })
      .catch((error: Error) => error);
    expect(conflict).toBeInstanceOf(Error);
    const again = await store.client.appendToStream(
      'window',
      jsonEvent({ id, type: 'Noted', data: { n: 0 } }),
    );
    expect(again.nextExpectedRevision).toBe(2n);
  }, 60_000);
});

describe('pricealert scavenge', () => {
  const cli = (args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        [BIN, 'scavenge', ...args],
        { env: { ...process.env, LOG_LEVEL: 'warn' } },
        (error, stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stdout, stderr }),
      );
    });

  it('scavenges the node running on the data dir and prints each step', async () => {
    const store = await started();
    await writeCheckpoints(store.client, 5_000);
    const run = await cli(['--data', store.dataDir]);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^scavenge [0-9a-f-]{36} started on 127\.0\.0\.1:\d+$/);
    expect(lines).toContainEqual(
      expect.stringMatching(new RegExp(`^  ${CHECKPOINTS}: 4999 events removed \\(`)),
    );
    expect(lines[lines.length - 1]).toMatch(
      /: Success, 4999 events removed, .* saved in \d\d:\d\d:\d\d\.\d{7}$/,
    );
    expect(await readStream(store.client, CHECKPOINTS)).toHaveLength(1);
  }, 60_000);

  it('runs on a schedule with pricealert store --scavenge-every', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pricealert-scavenge-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const node = runCli(['store', '--port', '0', '--data', dataDir, '--scavenge-every', '1s']);
    cleanups.push(() => node.kill());
    const client = EventStoreDBClient.connectionString((await node.stdout).trim());
    cleanups.push(() => client.dispose());
    await writeCheckpoints(client, 3_000);
    const ends = client.subscribeToStream<JSONEventType>('$scavenges', { fromRevision: START });
    cleanups.push(() => ends.unsubscribe());
    // Scheduled scavenges that started before the writes removed less; one after them removes them.
    for await (const { event } of ends)
      if (
        event?.type === ScavengeEvent.completed &&
        (event.data as { eventsRemoved: number }).eventsRemoved >= 2_999
      )
        break;
    expect(await readStream(client, CHECKPOINTS)).toHaveLength(1);
    expect(node.child.exitCode).toBeNull();
  }, 60_000);

  it('refuses bad usage with exit code 2', async () => {
    const both = await cli(['--data', '/tmp/x', '--url', 'esdb://127.0.0.1:1?tls=false']);
    expect(both).toMatchObject({ code: 2, stderr: 'pricealert: give --data or --url, not both\n' });
    const url = await cli(['--url', 'http://127.0.0.1:1']);
    expect(url.code).toBe(2);
    expect(url.stderr).toMatch(/--url "http:\/\/127\.0\.0\.1:1": use an esdb:\/\/ connection string/);
    const every = runCli(['store', '--port', '0', '--data', '/tmp/x', '--scavenge-every', '30d']);
    expect(await every.exit).toBe(2);
    expect(every.stderr()).toMatch(/--scavenge-every "30d": .*at most 24d/);
  });
});
