/**
 * @module Robots by behaviour: a visitor that views pages faster than anyone reads them.
 *
 * A robot that says it is a browser gets past `bots.ts`. What gives a crawler away is its pace:
 * it walks a site page after page, every second or two, for minutes. A person opening thirty tabs
 * at once views thirty pages in a few seconds, then reads; nobody reads a hundred pages in ten
 * minutes. So the visitor keeps a window of page views by their time: past `MAX_PAGE_VIEWS` in one
 * window, the visitor is a robot from then on, and what it sent is set aside with it.
 *
 * The time is the page's (the event's `ts`), not the server's: the snippet sends again, later and
 * all at once, what it could not send, and a replay must not look like a burst. A robot that forges
 * its times is the rate limiter's to deal with.
 */

export const PACE_WINDOW_MS = 10 * 60_000;
export const MAX_PAGE_VIEWS = 100;

/** What a visitor row keeps of its pace: the start of its current window and the views in it. */
export interface Pace {
  start: number | null;
  count: number;
}

/**
 * The pace after these page views, and whether it crossed the limit. A view older than the
 * current window (sent late) is left out: it was counted, or should have been, in its own time.
 */
export function advancePace(pace: Pace, pageViewTimes: readonly number[]): { pace: Pace; robot: boolean } {
  let { start, count } = pace;
  let robot = false;
  for (const ts of [...pageViewTimes].sort((a, b) => a - b)) {
    if (start === null || ts >= start + PACE_WINDOW_MS) {
      start = ts;
      count = 1;
    } else if (ts >= start) {
      count++;
    }
    if (count > MAX_PAGE_VIEWS) robot = true;
  }
  return { pace: { start, count }, robot };
}

/**
 * `advancePace` for one page view, as SQL: the new start and count from the stored ones (`start`,
 * `count`: column expressions) and the view's time (`ts`: an expression, NULL for no page view).
 * For a write that cannot read the visitor first (see `ingest`'s anonymous guess): D1 advances the
 * pace it holds. `pace.test` holds the two to the same answers.
 */
export function paceStepSql(start: string, count: string, ts: string): { start: string; count: string } {
  const restarts = `(${start} IS NULL OR ${ts} >= ${start} + ${PACE_WINDOW_MS})`;
  return {
    start: `CASE WHEN ${ts} IS NOT NULL AND ${restarts} THEN ${ts} ELSE ${start} END`,
    count: `CASE WHEN ${ts} IS NULL THEN ${count} WHEN ${restarts} THEN 1 WHEN ${ts} >= ${start} THEN ${count} + 1 ELSE ${count} END`,
  };
}

/**
 * Whether one of `views` (new page views' times) has more than `MAX_PAGE_VIEWS` of `all` (sorted,
 * holding them) in the window that ends at it: `(t - PACE_WINDOW_MS, t]`. A lead's visitors are
 * paced so, from the times of the page views the lead's history holds, which needs no row of its
 * own written per page view: see `ingest`'s `visitorPaces`.
 */
export function crowded(all: readonly number[], views: readonly number[]): boolean {
  for (const t of views) if (atOrBefore(all, t) - atOrBefore(all, t - PACE_WINDOW_MS) > MAX_PAGE_VIEWS) return true;
  return false;
}

/** How many of `sorted` are at or before `t`. */
function atOrBefore(sorted: readonly number[], t: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
