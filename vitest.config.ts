import { defineConfig } from 'vitest/config';

// `npm run test:soak` (SOAK=1) runs the long loops in test/soak; `npm test` leaves them out.
const soak = process.env.SOAK === '1';

export default defineConfig({
  test: {
    include: soak ? ['test/soak/**/*.test.ts'] : ['test/**/*.test.ts'],
    exclude: soak ? ['node_modules/**'] : ['test/soak/**', 'node_modules/**'],
    testTimeout: soak ? 600_000 : 30_000,
    hookTimeout: 60_000,
    // Integration tests start real store processes; two cores are shared between them.
    maxWorkers: 2,
    // Every `bin/pricealert.js` a test starts runs the source under test, not a build of it.
    env: { PRICEALERT_FROM_SOURCE: '1' },
  },
});
