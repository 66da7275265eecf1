// The writer thread: owns the log's write connection, so that the fsync of each group commit never
// blocks the thread that serves gRPC. While one batch commits, the next one gathers on the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import { unpack, type PackedBatch } from './handoff.ts';
import { openDatabase } from './schema.ts';
import { createWriter } from './writer.ts';

export interface WriterData {
  readonly path: string;
  readonly synchronous: 'FULL' | 'NORMAL';
}

export type ToWriter = { readonly type: 'write'; readonly batch: PackedBatch } | { readonly type: 'close' };

export type FromWriter =
  | { readonly type: 'ready' }
  | { readonly type: 'written'; readonly result: ReturnType<ReturnType<typeof createWriter>['write']> }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'closed' };

const port = parentPort!;
const { path, synchronous } = workerData as WriterData;
const db = openDatabase(path, synchronous);
const writer = createWriter(db);

port.on('message', (message: ToWriter) => {
  if (message.type === 'close') {
    db.close();
    port.postMessage({ type: 'closed' } satisfies FromWriter);
    return;
  }
  try {
    const result = writer.write(unpack(message.batch));
    port.postMessage({ type: 'written', result } satisfies FromWriter);
  } catch (error) {
    port.postMessage({
      type: 'failed',
      message: error instanceof Error ? error.message : String(error),
    } satisfies FromWriter);
  }
});
port.postMessage({ type: 'ready' } satisfies FromWriter);
