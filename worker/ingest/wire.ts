/**
 * @module The events wire format shared by `POST /v1/collect` (browsers, site key) and
 * `POST /v1/events` (servers, API key). Unknown keys are dropped, never stored.
 */
import { z } from 'zod';
import { recordOf } from '../scoring/model';

/** Keys that would reach an object's prototype if a consumer ever merged them naively. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const key = z
  .string()
  .min(1)
  .max(100)
  .refine((k) => !FORBIDDEN_KEYS.has(k), 'this key is not allowed');
const boundedRecord = <V extends z.ZodType>(value: V, maxKeys: number) =>
  recordOf(key, value).refine((r) => Object.keys(r).length <= maxKeys, `at most ${maxKeys} keys`);
const scalar = z.union([z.string().max(500), z.number().finite(), z.boolean(), z.null()]);

/** Browser-side events any page may send; e-mail engagement can only come from a server. */
export const BROWSER_TYPES = ['page_view', 'download', 'form_submit', 'identify'] as const;
export const SERVER_ONLY_TYPES = ['email_open', 'email_click'] as const;

/**
 * Text the browser makes, not the site's developer: a page's address, title and referrer. Longer
 * than `max`, it is cut, not refused, as refusing it would lose the event (a form's submission and
 * its e-mail with it, on a page whose title runs long). Never in the middle of a surrogate pair.
 */
const pageText = (max: number) =>
  z
    .string()
    .transform((s) => (s.length <= max ? s : s.slice(0, /[\uD800-\uDBFF]/.test(s[max - 1]!) ? max - 1 : max)))
    .meta({ description: `cut to ${max} characters when longer` });

/** 2000-01-01: anything older is a broken clock, not an event. */
const MIN_TS = 946_684_800_000;

export const WireEvent = z.object({
  id: z.string().min(1).max(64),
  type: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and _ . : - only'),
  ts: z.number().int().min(MIN_TS),
  visitor: z.string().min(1).max(64).optional(),
  url: pageText(2048).optional(),
  title: pageText(500).optional(),
  referrer: pageText(2048).optional(),
  contentType: z.string().max(64).optional(),
  fields: boundedRecord(z.string().max(1000), 50).optional(),
  traits: boundedRecord(scalar, 50).optional(),
  email: z.email().max(254).optional(),
  props: boundedRecord(scalar, 50).optional(),
});
export type WireEvent = z.infer<typeof WireEvent>;

/** The envelope; events are checked one by one so that one bad event does not sink the rest. */
export const WireBatch = z.object({
  site: z.string().regex(/^pk_[a-z0-9]{8,64}$/, 'a site key looks like pk_…'),
  events: z.array(z.unknown()).min(1, 'send at least one event').max(100, 'at most 100 events per request'),
});

export const ServerBatch = WireBatch.extend({ site: WireBatch.shape.site.optional() });

/** Largest body accepted, in bytes: 100 events of a few hundred bytes each fit with room to spare. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Clocks run ahead; an event more than a day in the future is refused. */
export const MAX_FUTURE_MS = 86_400_000;

/** The one visitor a batch's events all name, or null (none, or several). */
export function soleVisitor(events: readonly WireEvent[]): string | null {
  const visitor = events[0]?.visitor;
  return visitor && events.every((e) => e.visitor === visitor) ? visitor : null;
}
