/** @module page_view on load and on single-page-app navigation. */
import { hash } from './config';
import { emit } from './events';
import { on, safe } from './safe';

const path = () => location.pathname + location.search + (hash ? location.hash : '');
let last = '';

export const page = (): void => {
  last = path();
  emit('page_view', { title: document.title, referrer: document.referrer });
};

// Routers call replaceState for state only, and outside hash mode change the hash freely: those
// are not new pages.
const nav = safe(() => path() != last && page());

export const capturePageviews = (): void => {
  for (const m of ['pushState', 'replaceState'] as const) {
    const o = history[m];
    history[m] = function (this: History, ...a: Parameters<History['pushState']>) {
      o.apply(this, a);
      nav();
    };
  }
  on(window, 'popstate', nav);
  // Outside hash mode the path leaves the hash out, so this finds no new page.
  on(window, 'hashchange', nav);
  page();
};
