// The package as a production install has it, built from the current source into a temp dir: dist/
// compiled by tsconfig.build.json, bin/, schema/, package.json and its lockfile, and node_modules
// without tsx (only a development install has it), so nothing the compiled code runs can lean on it.
import { execFile } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const ROOT = join(import.meta.dirname, '../..');
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');

export interface BuiltPackage {
  readonly dir: string;
  /** Its bin/pricealert.js. */
  readonly bin: string;
  remove(): void;
}

/** The package without dist/ when `compile` is false: what a checkout is before `npm run build`. */
export async function buildPackage({ compile = true } = {}): Promise<BuiltPackage> {
  const dir = mkdtempSync(join(tmpdir(), 'pricealert-build-'));
  cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
  cpSync(join(ROOT, 'schema'), join(dir, 'schema'), { recursive: true });
  for (const file of ['package.json', 'package-lock.json']) copyFileSync(join(ROOT, file), join(dir, file));
  mkdirSync(join(dir, 'node_modules'));
  for (const name of readdirSync(join(ROOT, 'node_modules'))) {
    if (name !== 'tsx' && name !== '.bin')
      symlinkSync(join(ROOT, 'node_modules', name), join(dir, 'node_modules', name));
  }
  if (compile) {
    await promisify(execFile)(process.execPath, [
      TSC,
      '-p',
      join(ROOT, 'tsconfig.build.json'),
      '--outDir',
      join(dir, 'dist'),
    ]);
  }
  return {
    dir,
    bin: join(dir, 'bin/pricealert.js'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The environment of a user's shell: the tests' own switch to run the source is not in it. */
export function userEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { PRICEALERT_FROM_SOURCE: _fromSource, ...rest } = process.env;
  return { ...rest, LOG_LEVEL: 'warn', ...env };
}
