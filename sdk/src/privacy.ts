/** @module Whether the snippet may send and store: Do Not Track, GPC and consent. */
import { consentRequired, respectDnt } from './config';
import { store } from './storage';

// Set by initPrivacy before any event is made.
let dnt: boolean;
let ok: boolean;

/** True when events may be created, sent and stored. */
export const allowed = (): boolean => ok;

export const initPrivacy = (): void => {
  const n = navigator as Navigator & { globalPrivacyControl?: boolean };
  dnt = respectDnt && (n.doNotTrack == '1' || !!n.globalPrivacyControl);
  // '1' granted, '0' refused: a refusal also holds on sites that do not require consent.
  const s = store('consent');
  ok = !dnt && (s == '1' || (!consentRequired && s != '0'));
};

/** Records the choice; returns whether sending is now allowed. Only `true` grants consent. */
export const consent = (v: unknown): boolean => {
  store('consent', v === true ? '1' : '0');
  return (ok = !dnt && v === true);
};
