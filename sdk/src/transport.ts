/** @module Queue, batching, fetch keepalive (sendBeacon when leaving), and the retry store. */
import { endpoint, site } from './config';
import { allowed } from './privacy';
import { on, safe } from './safe';
import { store } from './storage';

/** One event of the POST /v1/collect wire format. */
export interface Ev {
  id: string;
  type: string;
  ts: number;
  visitor: string;
  url?: string;
  title?: string;
  referrer?: string;
  contentType?: string;
  fields?: Record<string, string>;
  traits?: object;
  props?: object;
}

let q: Ev[] = [];
let timer: ReturnType<typeof setTimeout> | 0 = 0;
let delay = 2e3;
let again: ReturnType<typeof setTimeout> | undefined;

// Empty strings (no referrer, blank optional fields, no form name) carry nothing: leave them out.
const drop = (_: string, v: unknown) => (v === '' ? undefined : v);

const load = (): Ev[] => {
  try {
    return (JSON.parse(store('retry')!) as Ev[] | null) || [];
  } catch {
    return [];
  }
};

/** Keeps at most 200 failed events, oldest dropped, and retries after 2 s, 4 s … 60 s. */
const keep = (events: Ev[]): void => {
  if (!allowed()) return;
  store('retry', JSON.stringify(load().concat(events).slice(-200)));
  // One pending retry: a timer per failed batch would multiply while offline.
  clearTimeout(again);
  again = setTimeout(safe(retry), delay);
  delay = Math.min(delay * 2, 6e4);
};

// A string body goes out as text/plain;charset=UTF-8, a CORS-safelisted type: no preflight.
const send = (events: Ev[], leaving?: unknown): void => {
  const body = JSON.stringify({ site, events }, drop);
  // Offline, a request would only fail (a beacon silently): keep the batch for later instead.
  if (!navigator.onLine) keep(events);
  // sendBeacon's true only means "queued", so it is kept for a leaving page, whose response nobody
  // could read anyway. Otherwise fetch, whose answer tells whether the batch needs another try.
  else if (!(leaving && navigator.sendBeacon?.(endpoint, body)))
    fetch(endpoint, { method: 'POST', body, keepalive: true, credentials: 'omit' })
      .then((r) => {
        // Other 4xx are final: the server refused the batch, sending it again would not help.
        if (r.status > 499 || r.status == 429) throw 0;
        delay = 2e3;
      })
      .catch(() => keep(events));
};

/** Sends the queue now; `leaving` when the page is being hidden or unloaded. */
export const flush = (leaving?: unknown): void => {
  clearTimeout(timer);
  timer = 0;
  while (q[0]) send(q.splice(0, 100), leaving);
};

/** Queues an event; `now` for clicks and submits that are about to leave the page. */
export const push = (e: Ev, now?: boolean): void => {
  q.push(e);
  now ? flush() : (timer ||= setTimeout(safe(flush), 1e3));
};

/** Sends what an earlier page (or request) failed to deliver, ahead of newer events. */
export const retry = (): void => {
  const r = load();
  if (r[0] && allowed()) {
    store('retry', null);
    q = r.concat(q);
    flush();
  }
};

/** Drops unsent events (consent withdrawn). */
export const clear = (): void => {
  q = [];
};

export const initTransport = (): void => {
  on(window, 'pagehide', () => flush(1));
  on(document, 'visibilitychange', () => document.hidden && flush(1));
  // Back online: no need to wait for the backoff.
  on(window, 'online', retry);
};
