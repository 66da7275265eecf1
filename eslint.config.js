import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'coverage/**', 'dist/**', '.scratch*/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The store port (README, "Store port"): only src/eventstore talks to @eventstore/db-client. The
    // embedded node's own tests and benches drive it through the unmodified client, as users' code would.
    files: ['**/*.{ts,js,mjs,cjs}'],
    ignores: [
      'src/eventstore/**',
      'test/eventstore/**',
      'bench/eventstore.bench.ts',
      'bench/persistent.bench.ts',
      'bench/delivery.bench.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '@eventstore/db-client',
              message: 'Use the store port (src/eventstore/store.ts, errors.ts) instead of the client.',
            },
          ],
          patterns: [
            {
              group: ['@eventstore/db-client/*'],
              message: 'Use the store port (src/eventstore/store.ts, errors.ts) instead of the client.',
            },
          ],
        },
      ],
    },
  },
);
