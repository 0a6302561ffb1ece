/** @module Random ids for visitors and events. */

/**
 * About 128 random bits in base36 (~25 chars). getRandomValues, unlike randomUUID, also works on
 * plain-http pages; the server counts each event id once, so a retried batch is never doubled.
 */
export const rid = (): string =>
  Array.from(crypto.getRandomValues(new Uint32Array(4)), (n) => n.toString(36)).join('');
