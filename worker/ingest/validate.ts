/** @module Event-by-event validation: the valid ones go on, each invalid one is named with its reason. */
import { zodIssues, type Issue } from '../lib/errors';
import { MAX_FUTURE_MS, SERVER_ONLY_TYPES, WireEvent } from './wire';

export interface Rejection {
  index: number;
  id?: string;
  code: string;
  message: string;
  issues?: Issue[];
}

export type Source = 'browser' | 'server';

export function validateEvents(raw: unknown[], source: Source, now: number) {
  const valid: WireEvent[] = [];
  const rejected: Rejection[] = [];
  raw.forEach((item, index) => {
    const parsed = WireEvent.safeParse(item);
    const id =
      item && typeof item === 'object' && typeof (item as { id?: unknown }).id === 'string'
        ? String((item as { id: string }).id).slice(0, 64)
        : undefined;
    const reject = (code: string, message: string, issues?: Issue[]) =>
      rejected.push({ index, ...(id !== undefined ? { id } : {}), code, message, ...(issues ? { issues } : {}) });
    if (!parsed.success) return reject('invalid_event', 'the event is not valid', zodIssues(parsed.error));
    const e = parsed.data;
    if (e.ts > now + MAX_FUTURE_MS) return reject('ts_in_future', '`ts` is more than a day ahead of the server clock');
    if (source === 'browser') {
      if (!e.visitor) return reject('visitor_required', 'a browser event needs a `visitor` id');
      if ((SERVER_ONLY_TYPES as readonly string[]).includes(e.type)) {
        return reject('server_only_type', `${e.type} can only be sent by a server, with an API key, to /v1/events`);
      }
      // A page cannot vouch for an e-mail by itself: browsers identify through `identify` or a form.
      delete e.email;
    } else if (!e.visitor && !e.email) {
      return reject('identity_required', 'a server event needs an `email` or a `visitor` id');
    }
    valid.push(e);
  });
  return { valid, rejected };
}

/** A rejection as issues of the whole request, for the 400 answered when no event is valid. */
export const rejectionIssues = (r: Rejection): Issue[] =>
  r.issues?.length
    ? r.issues.map((i) => ({ path: ['events', r.index, ...i.path], message: i.message }))
    : [{ path: ['events', r.index], message: r.message }];
