import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

/** Three worlds: pure units in Node, the worker inside workerd on real D1, Chromium end to end. */
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node' } },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              bindings: {
                TEST_MIGRATIONS: await readD1Migrations('./migrations'),
                ADMIN_TOKEN: 'test-admin-token',
                SNIPPET_ALIASES: '/js/app.js',
                COLLECT_ALIASES: '/p/e',
              },
            },
          }),
        ],
        test: {
          name: 'worker',
          // The fuzz tests call the worker as these do, on the same D1 and migrations.
          include: ['test/worker/**/*.test.ts', 'test/fuzz/**/*.test.ts'],
          setupFiles: ['test/worker/apply-migrations.ts'],
          // The webhook receiver runs in Node; the worker under test reaches it over loopback.
          globalSetup: ['test/worker/receiver.ts'],
          // FUZZ_SEED=n replays (or varies) the fuzz tests' requests; unset, the seed is fixed.
          provide: { fuzzSeed: process.env.FUZZ_SEED ?? '' },
        },
      },
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 180_000,
          // One wrangler dev and one Chromium at a time: two cores fit no more.
          fileParallelism: false,
        },
      },
    ],
  },
});
