/**
 * @module A visitor's Durable Object, optional (`VISITOR_INGEST`): every collect request of one
 * browser visitor is ingested by the same object, wherever Cloudflare served the request, so what
 * the last request wrote is always recalled (see `recall`) while the object stays in memory, and a
 * lead's page view costs one D1 round trip on any edge isolate instead of two.
 *
 * The object holds a memory of its own, no storage: a cold object reads first, as an isolate that
 * never saw the visitor does, and every guess it makes is checked by the write as ever. Requests
 * that write the visitor's lead elsewhere (another browser of the lead, the API, a recompute) make
 * its guess stale: the write fails, and the request is redone from a read.
 */
import { DurableObject } from 'cloudflare:workers';
import { meteredD1, type D1Meter } from '../db/metering';
import type { Bindings, SiteContext } from '../env';
import { ApiError } from '../lib/errors';
import { ingest, type IngestResult } from './ingest';
import { Recall, recallsIn } from './recall';
import type { WireEvent } from './wire';

/** One visitor, its lead, and the shapes of the site it met: small bounds. */
const BOUNDS = { visitors: 4, leads: 4, events: 20_000, shapes: 2_000 };

/**
 * What the object answers: an `ApiError` crosses RPC as data (an error's class does not survive it);
 * `newerSite`, the site with a model saved since the caller's copy, for the caller's site cache.
 */
export type VisitorIngestAnswer = { roundTrips: D1Meter['roundTrips'] | null; newerSite: SiteContext | null } & (
  | { ok: true; result: IngestResult }
  | { ok: false; error: { status: ApiError['status']; code: string; message: string } }
);

export class VisitorIngest extends DurableObject<Bindings> {
  private readonly memory = new Recall(BOUNDS);

  /** `metered`: the request runs with `D1_METERING=on`, and the object's D1 statements are counted for it. */
  async ingest(site: SiteContext, events: WireEvent[], now: number, metered: boolean): Promise<VisitorIngestAnswer> {
    const meter: D1Meter | null = metered ? { roundTrips: [] } : null;
    const d1 = meter ? meteredD1(this.env.DB, meter) : this.env.DB;
    let newerSite: SiteContext | null = null;
    const options = { recall: recallsIn(this.env), memory: this.memory, onNewerModel: (s: SiteContext) => (newerSite = s) };
    try {
      const result = await ingest(d1, site, events, now, options);
      return { ok: true, result, roundTrips: meter?.roundTrips ?? null, newerSite };
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      return { ok: false, error: { status: err.status, code: err.code, message: err.message }, roundTrips: meter?.roundTrips ?? null, newerSite };
    }
  }
}

/**
 * Ingests a batch of one visitor at its object, as `ingest` would here: its statements added to
 * `meter` when the request is metered, a newer model handed to `onNewerModel`, an `ApiError` thrown
 * again as one.
 */
export async function ingestAtVisitor(
  namespace: DurableObjectNamespace<VisitorIngest>,
  site: SiteContext,
  visitor: string,
  events: WireEvent[],
  now: number,
  { meter, onNewerModel }: { meter?: D1Meter; onNewerModel?: (site: SiteContext) => void },
): Promise<IngestResult> {
  const answer = await visitorObject(namespace, site.id, visitor).ingest(site, events, now, meter !== undefined);
  if (answer.roundTrips) meter?.roundTrips.push(...answer.roundTrips);
  if (answer.newerSite) onNewerModel?.(answer.newerSite);
  if (!answer.ok) throw new ApiError(answer.error.status, answer.error.code, answer.error.message);
  return answer.result;
}

/** The object of a site's visitor. */
const visitorObject = (namespace: DurableObjectNamespace<VisitorIngest>, siteId: string, visitor: string) =>
  namespace.getByName(`${siteId}\u0000${visitor}`);
