import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

/** Three worlds: pure units in Node, the worker inside workerd on real D1, Chromium end to end. */
export default defineConfig({
  test: {
    projects: [
      // `vitest bench` (npm run bench:timeline) finds the engine's micro-benchmarks in bench/.
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node', benchmark: { include: ['bench/**/*.bench.ts'] } } },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              // A database of its own for migration tests, which start from an older schema.
              d1Databases: ['MIGRATION_DB'],
              bindings: {
                TEST_MIGRATIONS: await readD1Migrations('./migrations'),
                ADMIN_TOKEN: 'test-admin-token',
                SNIPPET_ALIASES: '/js/app.js',
                COLLECT_ALIASES: '/p/e',
              },
              // The queue path of collect, bound under another name: each test picks its path.
              queueProducers: { TEST_EVENTS: { queueName: 'leadscore-events-test' } },
              // Visitors' Durable Objects (`VISITOR_INGEST`), likewise under another name.
              durableObjects: { TEST_VISITOR_INGEST: 'VisitorIngest' },
              queueConsumers: { 'leadscore-events-test': { maxBatchSize: 100, maxBatchTimeout: 0.2 } },
              // Lower than wrangler.toml's, so that a test reaches them in a few hundred requests.
              ratelimits: {
                RATE_LIMIT_IP: { simple: { limit: 100, period: 60 } },
                RATE_LIMIT_SITE: { simple: { limit: 100, period: 60 } },
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
          include: ['test/browser/**/*.test.ts', 'test/stack/**/*.test.ts'],
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
