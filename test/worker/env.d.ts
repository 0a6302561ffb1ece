import type { D1Migration } from '@cloudflare/vitest-pool-workers';
import type { Bindings } from '../../worker/env';

declare global {
  namespace Cloudflare {
    interface GlobalProps {
      mainModule: typeof import('../../worker/index');
    }
    interface Env extends Bindings {
      TEST_MIGRATIONS: D1Migration[];
      /** The queue path's queue, bound as `EVENTS` by the tests that take that path. */
      TEST_EVENTS: Queue<import('../../worker/ingest/event-queue').EventsMessage>;
      TEST_VISITOR_INGEST: DurableObjectNamespace<import('../../worker/ingest/visitor-object').VisitorIngest>;
      /** Empty at first: migration tests apply the migrations up to the one they test. */
      MIGRATION_DB: D1Database;
    }
  }
}
