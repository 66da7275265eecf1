// The writer thread: owns the log's write connection, so that the fsync of each group commit never
// blocks the thread that serves gRPC. While one batch commits, the next one gathers on the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import { unpack, type PackedBatch } from './handoff.ts';
import { openDatabase } from './schema.ts';
import { createSweeper, type Chore, type ChoreResult } from './sweeper.ts';
import { createWriter, type WriterOptions } from './writer.ts';

export interface WriterData {
  readonly path: string;
  readonly synchronous: 'FULL' | 'NORMAL';
  readonly writer: WriterOptions;
}

export type ToWriter =
  | { readonly type: 'write'; readonly batch: PackedBatch }
  | { readonly type: 'chore'; readonly chore: Chore }
  | { readonly type: 'close' };

export type FromWriter =
  | { readonly type: 'ready' }
  | { readonly type: 'written'; readonly result: ReturnType<ReturnType<typeof createWriter>['write']> }
  | { readonly type: 'choreDone'; readonly result: ChoreResult }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'closed' };

const port = parentPort!;
const { path, synchronous, writer: writerOptions } = workerData as WriterData;
const db = openDatabase(path, synchronous);
const writer = createWriter(db, writerOptions);
const sweeper = createSweeper(db);

port.on('message', (message: ToWriter) => {
  if (message.type === 'close') {
    db.close();
    port.postMessage({ type: 'closed' } satisfies FromWriter);
    return;
  }
  try {
    if (message.type === 'chore')
      port.postMessage({ type: 'choreDone', result: sweeper.run(message.chore) } satisfies FromWriter);
    else
      port.postMessage({ type: 'written', result: writer.write(unpack(message.batch)) } satisfies FromWriter);
  } catch (error) {
    port.postMessage({
      type: 'failed',
      message: error instanceof Error ? error.message : String(error),
    } satisfies FromWriter);
  }
});
port.postMessage({ type: 'ready' } satisfies FromWriter);
