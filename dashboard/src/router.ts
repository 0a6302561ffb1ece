/**
 * @module Hash routes: `#` (or nothing) for the segments, `#lead/<encoded id>` for one lead,
 * `#model` for the scoring model editor.
 *
 * Hash routing needs no server support beyond `/dashboard`, and a fragment link can never navigate
 * away from the page, which is why `dom.ts` only accepts `#…` hrefs.
 */

export type Route = { view: 'segments' } | { view: 'lead'; id: string } | { view: 'model' };

const LEAD_PREFIX = '#lead/';

export function parseRoute(hash: string): Route {
  if (hash === MODEL_HREF) return { view: 'model' };
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

export const SEGMENTS_HREF = '#';

export const MODEL_HREF = '#model';
