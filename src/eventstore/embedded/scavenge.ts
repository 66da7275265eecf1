// Scavenging, as EventStoreDB's operations service runs it: one scavenge at a time removes the events
// reads no longer return (deleted streams, before `$tb`, beyond `$maxCount`/`$maxAge`) and gives their
// space back, recording its progress in `$scavenges` and `$scavenges-{scavengeId}`. The work is done in
// small steps on the writer thread, between write batches (sweeper.ts).
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Storage } from './storage.ts';
import { json } from './system.ts';

/**
 * The time one step (one transaction) spends deleting or vacuuming: write batches take turns with the
 * steps, so an append waits for at most one step and its commit (whose WAL write and fsync, and now and
 * then a WAL checkpoint, come on top).
 */
const STEP_BUDGET_MS = 5;
/** EventStoreDB keeps a scavenge's own stream for 30 days. */
const SCAVENGE_STREAM_MAX_AGE_S = 30 * 24 * 60 * 60;

export const SCAVENGES_STREAM = '$scavenges';
export const scavengeStreamOf = (scavengeId: string): string => `${SCAVENGES_STREAM}-${scavengeId}`;

/** The event types, as EventStoreDB names them where it has one. */
export const ScavengeEvent = {
  started: '$scavengeStarted',
  /** Ours: one per stream that had hidden events (EventStoreDB's steps are per chunk). */
  streamCompleted: '$scavengeStreamCompleted',
  /** Ours: the file's size before and after the freed pages went back to the file system. */
  spaceReclaimed: '$scavengeSpaceReclaimed',
  completed: '$scavengeCompleted',
} as const;

export type ScavengeResult = 'Success' | 'Stopped' | 'Failed';

export type StartOutcome = { readonly kind: 'started' | 'in_progress'; readonly scavengeId: string };

export interface Scavenger {
  /** Starts a scavenge, or names the one already running. */
  start(): StartOutcome;
  /** Asks the running scavenge to stop after its current step; false when `scavengeId` is not running. */
  stop(scavengeId: string): boolean;
  /** Stops a running scavenge and waits until it recorded how it ended. */
  close(): Promise<void>;
}

export interface ScavengerOptions {
  readonly storage: Storage;
  readonly logger: Logger;
  /** `host:port` of this node, as EventStoreDB records it in every scavenge event. */
  readonly nodeEndpoint: () => string;
}

/** EventStoreDB writes durations as .NET TimeSpans: `hh:mm:ss.fffffff`. */
export function timeSpan(ms: number): string {
  const whole = Math.floor(ms / 1000);
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
  const fraction = pad(Math.round((ms - whole * 1000) * 10_000), 7);
  return `${pad(Math.floor(whole / 3600))}:${pad(Math.floor(whole / 60) % 60)}:${pad(whole % 60)}.${fraction}`;
}

const record = async (
  storage: Storage,
  stream: string,
  type: string,
  data: Record<string, unknown>,
): Promise<void> => {
  const outcome = await storage.append(stream, { kind: 'any' }, [json(type, data)]);
  if (outcome.kind !== 'success') throw new Error(`cannot append to ${stream}: ${outcome.kind}`);
};

/**
 * A scavenge the node did not finish (it was killed) is recorded as failed when the node starts, as
 * EventStoreDB does. Its removals stand; the next scavenge picks up what is left.
 */
export async function closeInterruptedScavenge(storage: Storage): Promise<void> {
  const view = storage.viewStream(SCAVENGES_STREAM);
  if (view.kind !== 'present') return;
  const [last] = storage.readStream(view, SCAVENGES_STREAM, view.lastRevision, false, 1);
  if (last?.type !== ScavengeEvent.started) return;
  const { scavengeId, nodeEndpoint } = JSON.parse(last.data.toString('utf8')) as {
    scavengeId: string;
    nodeEndpoint: string;
  };
  const completed = {
    scavengeId,
    nodeEndpoint,
    result: 'Failed' satisfies ScavengeResult,
    error: 'The node was restarted.',
    timeTaken: timeSpan(Date.now() - last.created),
    spaceSaved: 0,
  };
  await record(storage, scavengeStreamOf(scavengeId), ScavengeEvent.completed, completed);
  await record(storage, SCAVENGES_STREAM, ScavengeEvent.completed, completed);
}

export function createScavenger({ storage, logger, nodeEndpoint }: ScavengerOptions): Scavenger {
  let current: { id: string; stopRequested: boolean; done: Promise<void> } | undefined;
  let closed = false;

  const run = async (scavengeId: string, stopped: () => boolean): Promise<void> => {
    const startedAt = Date.now();
    const stream = scavengeStreamOf(scavengeId);
    const base = { scavengeId, nodeEndpoint: nodeEndpoint() };
    const bytesBefore = storage.sizeOnDisk();
    let eventsRemoved = 0;
    let result: ScavengeResult = 'Success';
    let error: string | null = null;
    try {
      await record(storage, `$$${stream}`, '$metadata', { $maxAge: SCAVENGE_STREAM_MAX_AGE_S });
      await record(storage, SCAVENGES_STREAM, ScavengeEvent.started, base);
      await record(storage, stream, ScavengeEvent.started, base);
      for (const target of storage.scavengeTargets()) {
        if (stopped()) break;
        const streamStart = Date.now();
        let removed = 0;
        for (;;) {
          const step = await storage.chore({ kind: 'sweep', streamId: target.id, budgetMs: STEP_BUDGET_MS });
          removed += step.removed;
          if (step.done || stopped()) break;
        }
        eventsRemoved += removed;
        if (removed > 0)
          await record(storage, stream, ScavengeEvent.streamCompleted, {
            ...base,
            streamName: target.name,
            eventsRemoved: removed,
            timeTaken: timeSpan(Date.now() - streamStart),
          });
      }
      const vacuumStart = Date.now();
      while (!stopped()) {
        const step = await storage.chore({ kind: 'vacuum', budgetMs: STEP_BUDGET_MS });
        if (step.done) break;
      }
      await storage.chore({ kind: 'checkpoint' });
      await record(storage, stream, ScavengeEvent.spaceReclaimed, {
        ...base,
        bytesBefore,
        bytesAfter: storage.sizeOnDisk(),
        timeTaken: timeSpan(Date.now() - vacuumStart),
      });
      if (stopped()) result = 'Stopped';
    } catch (failure) {
      result = 'Failed';
      error = failure instanceof Error ? failure.message : String(failure);
      logger.error({ err: failure, scavengeId }, 'scavenge failed');
    }
    const completed = {
      ...base,
      result,
      error,
      timeTaken: timeSpan(Date.now() - startedAt),
      spaceSaved: Math.max(0, bytesBefore - storage.sizeOnDisk()),
      eventsRemoved,
    };
    try {
      await record(storage, stream, ScavengeEvent.completed, completed);
      await record(storage, SCAVENGES_STREAM, ScavengeEvent.completed, completed);
    } catch (failure) {
      // The node is stopping: the next start records this scavenge as interrupted.
      logger.warn({ err: failure, scavengeId }, 'could not record the end of a scavenge');
    }
    logger.info(completed, 'scavenge completed');
  };

  return {
    start() {
      if (current) return { kind: 'in_progress', scavengeId: current.id };
      const id = randomUUID();
      const state = { id, stopRequested: closed, done: Promise.resolve() };
      state.done = run(id, () => state.stopRequested).finally(() => {
        if (current === state) current = undefined;
      });
      current = state;
      return { kind: 'started', scavengeId: id };
    },
    stop(scavengeId) {
      if (current?.id !== scavengeId) return false;
      current.stopRequested = true;
      return true;
    },
    async close() {
      closed = true;
      if (!current) return;
      current.stopRequested = true;
      await current.done;
    },
  };
}
