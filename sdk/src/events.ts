/** @module Builds events; the single place where the privacy switches are checked. */
import { rid } from './ids';
import { allowed } from './privacy';
import { type Ev, push } from './transport';
import { visitor } from './visitor';

export type Extra = Omit<Ev, 'id' | 'type' | 'ts' | 'visitor'>;

/** Events raised while sending is not allowed are dropped, not queued for later. */
export const emit = (type: string, x?: Extra, now?: boolean): void => {
  if (allowed()) push({ id: rid(), type, ts: Date.now(), visitor: visitor(), url: location.href, ...x }, now);
};
