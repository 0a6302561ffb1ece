/** @module The first-party anonymous visitor id (localStorage, never a cookie). */
import { rid } from './ids';
import { store } from './storage';

// Kept in memory too, so a page whose storage throws still has one stable id.
let vid: string | null = null;

/** Created on first use, which only happens once sending is allowed. */
export const visitor = (): string => {
  if (!vid) store('vid', (vid = store('vid') || rid()));
  return vid;
};

/** Consent withdrawn: the id and any unsent events leave the browser's storage. */
export const forget = (): void => {
  vid = null;
  store('vid', null);
  store('retry', null);
};
