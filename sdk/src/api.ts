/** @module The `leadscore(command, …args)` global. */
import { page } from './capture-pageviews';
import { emit } from './events';
import { consent } from './privacy';
import { clear } from './transport';
import { forget } from './visitor';

/**
 * Runs one command; unknown commands are ignored and errors never reach the caller.
 * @example
 * leadscore('identify', { email: 'ada@example.com', company: 'Acme' });
 * leadscore('track', 'webinar_signup', { webinar: 'scoring-101' });
 * leadscore('page');
 * leadscore('consent', true);
 */
export function leadscore(c: string, a?: unknown, b?: unknown): void {
  try {
    if (c == 'identify') a && emit('identify', { traits: a as object });
    else if (c == 'track') typeof a == 'string' && a && emit(a, { props: b as object });
    else if (c == 'page') page();
    // Withdrawn (or blocked by DNT): unsent events and stored ids go.
    else if (c == 'consent') consent(a) || (clear(), forget());
  } catch {}
}
/** Marks the real function, so a second copy of the script leaves it alone. */
leadscore.v = 1;
