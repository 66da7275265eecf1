// Starting the embedded EventStoreDB-compatible node in its own process, so that a busy app never
// starves it: `startEmbeddedNode` forks `entry.ts` (compiled: `entry.js`) and resolves once the node listens.
import { fork } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { childExecArgv, moduleBeside } from '../../layout.ts';
import type { NodeMessage } from './entry.ts';
import { limitArgs, type NodeLimits } from './limits.ts';
import { EXIT_LOCKED } from './lock.ts';

export { NodeLockedError, LOCK_FILE, liveLock, type LockInfo } from './lock.ts';

export interface EmbeddedNodeOptions {
  readonly dataDir: string;
  readonly host?: string;
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  readonly logLevel?: string;
  /** Overrides of the node's limits; the rest come from `EVENTSTORE_*` variables or the defaults. */
  readonly limits?: Partial<NodeLimits>;
}

export interface EmbeddedNode {
  /** e.g. `esdb://127.0.0.1:40123?tls=false` */
  readonly connectionString: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Raised when the node could not start; `exitCode` 2 means another live node owns the data dir. */
export class EmbeddedNodeError extends Error {
  readonly code = 'EMBEDDED_NODE';
  constructor(
    message: string,
    readonly exitCode: number | null,
  ) {
    super(message);
  }

  /** Another live node owns the data dir. */
  get locked(): boolean {
    return this.exitCode === EXIT_LOCKED;
  }
}

const ENTRY = fileURLToPath(moduleBeside(import.meta.url, './entry'));
const STOP_GRACE_MS = 5_000;

export function startEmbeddedNode({
  dataDir,
  host = '127.0.0.1',
  port = 0,
  logLevel = 'info',
  limits = {},
}: EmbeddedNodeOptions): Promise<EmbeddedNode> {
  const child = fork(
    ENTRY,
    [
      '--data',
      dataDir,
      '--host',
      host,
      '--port',
      String(port),
      '--log-level',
      logLevel,
      // Its stderr is a pipe (to keep its last line for errors); its logs look like ours.
      ...(process.stderr.isTTY ? ['--log-pretty'] : []),
      ...limitArgs(limits),
    ],
    {
      execArgv: childExecArgv(),
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    },
  );
  let lastError = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    process.stderr.write(chunk);
    const lines = chunk.toString('utf8').trim().split('\n');
    lastError = lines[lines.length - 1] ?? lastError;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  return new Promise((resolve, reject) => {
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      reject(
        new EmbeddedNodeError(
          lastError || `the embedded node exited (${code ?? signal}) before it was ready`,
          code,
        ),
      );
    };
    child.once('exit', onExit);
    child.once('message', (message: NodeMessage) => {
      if (message.type !== 'ready') return;
      child.off('exit', onExit);
      // The node must not keep the parent alive, nor the parent wait on the node's pipes.
      child.unref();
      child.channel?.unref();
      (child.stderr as Socket | null)?.unref();
      let stopping: Promise<void> | undefined;
      resolve({
        connectionString: message.connectionString,
        pid: child.pid!,
        stop: () => {
          stopping ??= (async () => {
            if (child.exitCode !== null || child.signalCode !== null) return;
            child.kill('SIGTERM');
            const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
            await exited;
            clearTimeout(timer);
          })();
          return stopping;
        },
      });
    });
  });
}
