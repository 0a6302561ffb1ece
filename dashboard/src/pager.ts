/**
 * @module Previous / Next over an API cursor. The API only pages forward (`nextCursor`), so the
 * pager keeps the cursor of every page it has shown: Previous goes back to the one before.
 *
 * The buttons are never disabled while a page loads (that would throw keyboard focus to <body>);
 * clicks are ignored instead. When a button becomes unusable while focused (the last page reached),
 * focus moves to the other one.
 */
import { focusQuietly, h, setText } from './dom';

export interface Pager {
  /** The `<nav>` to put under the list. */
  root: HTMLElement;
  /** The cursor of the page to load now: null for the first. */
  cursor(): string | null;
  /** 1-based. */
  page(): number;
  /** Back to the first page (a new search, another filter). */
  reset(): void;
  /** After a page has loaded: whether there is a next one, and what to say about this one. */
  loaded(nextCursor: string | null, summary: string): void;
  /** While a page loads, clicks do nothing. */
  setBusy(busy: boolean): void;
}

export function createPager(label: string, onChange: () => void): Pager {
  /** cursors[i] is the cursor that loads page i + 1. */
  let cursors: (string | null)[] = [null];
  let next: string | null = null;
  let busy = false;

  const prev = h('button', { type: 'button', class: 'secondary', 'data-page': 'previous' }, 'Previous');
  const more = h('button', { type: 'button', class: 'secondary', 'data-page': 'next' }, 'Next');
  const info = h('p', { class: 'pager-info' });
  const root = h('nav', { class: 'pager', 'aria-label': label, hidden: true }, prev, info, more);

  const render = () => {
    const first = cursors.length === 1;
    prev.hidden = first && next === null;
    more.hidden = first && next === null;
    prev.setAttribute('aria-disabled', String(first));
    more.setAttribute('aria-disabled', String(next === null));
    const focused = document.activeElement;
    if (focused === prev && first && next !== null) focusQuietly(more);
    if (focused === more && next === null && !first) focusQuietly(prev);
  };

  prev.addEventListener('click', () => {
    if (busy || cursors.length === 1) return;
    cursors = cursors.slice(0, -1);
    onChange();
  });
  more.addEventListener('click', () => {
    if (busy || next === null) return;
    cursors = [...cursors, next];
    onChange();
  });

  return {
    root,
    cursor: () => cursors[cursors.length - 1] ?? null,
    page: () => cursors.length,
    reset() {
      cursors = [null];
      next = null;
    },
    loaded(nextCursor, summary) {
      next = nextCursor;
      root.hidden = false;
      setText(info, summary);
      render();
    },
    setBusy(b) {
      busy = b;
      root.setAttribute('aria-busy', String(b));
    },
  };
}
