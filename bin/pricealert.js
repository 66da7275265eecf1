#!/usr/bin/env node
// The `pricealert` command: the compiled CLI in dist/ (`npm ci` builds it, `npm run build` after a
// change). With PRICEALERT_FROM_SOURCE=1 it runs the TypeScript in src/ through tsx instead, as
// `npm run dev` and the tests do.
import { existsSync } from 'node:fs';
import process from 'node:process';
import { URL } from 'node:url';

const COMPILED = new URL('../dist/src/cli/main.js', import.meta.url);

if (process.env.PRICEALERT_FROM_SOURCE === '1') {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
} else if (existsSync(COMPILED)) {
  await import(COMPILED.href);
} else {
  process.stderr.write(
    'pricealert: not built: run `npm run build`, or set PRICEALERT_FROM_SOURCE=1 to run the source through tsx\n',
  );
  process.exitCode = 2;
}
