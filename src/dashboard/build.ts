// Bundles the dashboard (src/dashboard/web) with everything it imports into dist/dashboard, so `serve`
// can answer `/` offline: no CDN, one script and one stylesheet. Run by `npm run build`.
import { copyFile, mkdir } from 'node:fs/promises';
import { build } from 'esbuild';

const WEB = new URL('./web/', import.meta.url);
const OUT = new URL('../../dist/dashboard/', import.meta.url);

await mkdir(OUT, { recursive: true });
await build({
  entryPoints: { app: new URL('main.ts', WEB).pathname },
  outdir: OUT.pathname,
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022'],
  platform: 'browser',
  // Licence headers of the bundled libraries (lightweight-charts' Apache-2.0 notice) stay in the output.
  legalComments: 'eof',
  logLevel: 'warning',
});
await copyFile(new URL('index.html', WEB), new URL('index.html', OUT));
