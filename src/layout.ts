// Where pricealert finds its own files, alike when it runs from source (TypeScript through tsx: development
// and the tests) and compiled (JavaScript in dist/, built by `npm run build`). A thread or a child process
// starts the same form of module as the code that starts it.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

const FROM_SOURCE = import.meta.url.endsWith('.ts');

/** The package's root: this file is src/layout.ts, or dist/src/layout.js once compiled. */
const ROOT = new URL(FROM_SOURCE ? '../' : '../../', import.meta.url);

/** A file of the package that is not code (the schema, the built dashboard), by its path from the root. */
export const packageFile = (path: string): URL => new URL(path, ROOT);

/** The module `name` (no extension) beside `base` (the caller's `import.meta.url`), in the form that runs. */
export const moduleBeside = (base: string, name: string): URL =>
  new URL(`${name}${FROM_SOURCE ? '.ts' : '.js'}`, base);

/**
 * A worker thread on `entry`. From source, the thread registers tsx before importing its entry: a worker
 * does not inherit loader hooks registered at run time.
 */
export function startWorker(entry: URL, options: WorkerOptions): Worker {
  if (!FROM_SOURCE) return new Worker(entry, options);
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const boot = `import(${tsx}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(boot, { ...options, eval: true });
}

/**
 * Node flags for a child process on a module of this package: from source, tsx's loader, by absolute
 * URL (a bare `--import tsx` would be resolved from the child's working directory).
 */
export const childExecArgv = (): string[] =>
  FROM_SOURCE ? ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href] : [];
