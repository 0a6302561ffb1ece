/**
 * @module Hash routes: `#` (or nothing) for the segments, `#lead/<encoded id>` for one lead,
 * `#model` for the scoring model editor, `#quality` for the model's quality and suggested weights.
 * `#nurturing` for the branch triggers and webhooks, `#band/<encoded name>` for a band's members.
 *
 * Hash routing needs no server support beyond `/dashboard`, and a fragment link can never navigate
 * away from the page, which is why `dom.ts` only accepts `#…` hrefs.
 */

export type Route =
  | { view: 'segments' }
  | { view: 'lead'; id: string }
  | { view: 'model' }
  | { view: 'quality' }
  | { view: 'nurturing' }
  | { view: 'band'; name: string };

const LEAD_PREFIX = '#lead/';
const BAND_PREFIX = '#band/';
export const NURTURING_HREF = '#nurturing';

export function parseRoute(hash: string): Route {
  if (hash === MODEL_HREF) return { view: 'model' };
  if (hash === QUALITY_HREF) return { view: 'quality' };
  if (hash === NURTURING_HREF) return { view: 'nurturing' };
  if (hash.startsWith(BAND_PREFIX)) {
    try {
      const name = decodeURIComponent(hash.slice(BAND_PREFIX.length));
      if (name) return { view: 'band', name };
    } catch {
      // A malformed escape sequence: fall back to the segments.
    }
  }
  if (hash.startsWith(LEAD_PREFIX)) {
    try {
      const id = decodeURIComponent(hash.slice(LEAD_PREFIX.length));
      if (id) return { view: 'lead', id };
    } catch {
      // A malformed escape sequence: fall back to the segments.
    }
  }
  return { view: 'segments' };
}

/** The link to a lead, built from its id only through encodeURIComponent. */
export const leadHref = (id: string): string => LEAD_PREFIX + encodeURIComponent(id);

/** The link to a band's members page, built from its name only through encodeURIComponent. */
export const bandHref = (name: string): string => BAND_PREFIX + encodeURIComponent(name);

export const SEGMENTS_HREF = '#';

export const MODEL_HREF = '#model';

export const QUALITY_HREF = '#quality';
