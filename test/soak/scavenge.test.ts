// SOAK=1 npm run test:soak — a scavenge of a million checkpoint-like events in a `$maxCount` 1 stream.
import { afterAll, describe, expect, it } from 'vitest';
import { followScavenge, startScavenge } from '../../src/eventstore/scavenge.ts';
import {
  CHECKPOINTS,
  liveView,
  onDisk,
  readAll,
  writeCheckpoints,
  writeMixedStreams,
} from '../eventstore/scavengeStore.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';

const EVENTS = Number(process.env.SOAK_SCAVENGE_EVENTS ?? 1_000_000);

describe.runIf(process.env.SOAK === '1')('scavenge (soak)', () => {
  let store: TestStore | undefined;
  afterAll(() => store?.stop());

  it(`removes ${EVENTS} hidden checkpoints, shrinks the file and keeps every live event`, async () => {
    store = await startTestStore();
    await writeMixedStreams(store.client);
    const earlier = await readAll(store.client);
    await writeCheckpoints(store.client, EVENTS);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const before = await liveView(store.client, earlier, [CHECKPOINTS]);
    const lastBefore = before.all[before.all.length - 1]!.position!;
    const bytesBefore = onDisk(store.dataDir);

    const answer = await startScavenge(store.connectionString);
    const completed = await followScavenge(store.client, answer.scavengeId);

    expect(completed.data).toMatchObject({ result: 'Success' });
    expect(Number(completed.data.eventsRemoved)).toBeGreaterThanOrEqual(EVENTS - 1);
    const after = await liveView(store.client, earlier, [CHECKPOINTS]);
    expect(after.streams).toEqual(before.streams);
    expect((await readAll(store.client)).filter((event) => event.position! <= lastBefore)).toEqual(
      before.all,
    );
    expect(onDisk(store.dataDir)).toBeLessThan(bytesBefore / 10);
  }, 1_800_000);
});
