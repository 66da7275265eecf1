// Entry point of the forked node process (see index.ts). Reports readiness over IPC, stops on SIGTERM
// or when its parent goes away, and exits 2 when the data dir belongs to another live node.
import { parseArgs } from 'node:util';
import { createLogger } from '../../logger.ts';
import { LIMIT_OPTIONS, LimitError, limitFlags, resolveLimits } from './limits.ts';
import { EXIT_LOCKED, NodeLockedError } from './lock.ts';
import { runNode } from './node.ts';

/** Bad limits, as a bad flag of any command (CONTRACT §1). */
const EXIT_USAGE = 2;

export type NodeMessage = { readonly type: 'ready'; readonly connectionString: string };

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    'log-level': { type: 'string', default: 'info' },
    'log-pretty': { type: 'boolean', default: false },
    ...Object.fromEntries(LIMIT_OPTIONS.map((option) => [option.flag, { type: 'string' } as const])),
  },
});

const logger = createLogger(values['log-level'], values['log-pretty']).child({
  component: 'eventstore-node',
});

try {
  const node = await runNode({
    limits: resolveLimits(
      process.env,
      limitFlags((flag) => (values as Record<string, unknown>)[flag]),
    ),
    dataDir: values.data ?? './data',
    host: values.host!,
    port: Number(values.port),
    logger,
  });
  const shutdown = (): void => {
    node.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  if (process.send) {
    // Ctrl-C in a terminal reaches the whole process group: the parent decides when its node stops
    // (it may still be saving checkpoints), and the node lives as long as the parent does.
    process.on('SIGINT', () => logger.debug('SIGINT ignored; the parent process stops this node'));
    process.once('disconnect', shutdown);
  } else {
    process.once('SIGINT', shutdown);
  }
  process.send?.({ type: 'ready', connectionString: node.connectionString } satisfies NodeMessage);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(error instanceof NodeLockedError ? EXIT_LOCKED : error instanceof LimitError ? EXIT_USAGE : 1);
}
