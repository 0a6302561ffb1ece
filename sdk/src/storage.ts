/** @module localStorage under the `leadscore.` prefix; never throws (private modes, blocked storage). */

/** `store(k)` reads, `store(k, v)` writes, `store(k, null)` removes. */
export const store = (k: string, v?: string | null): string | null => {
  try {
    const s = localStorage;
    k = 'leadscore.' + k;
    if (v === undefined) return s.getItem(k);
    v === null ? s.removeItem(k) : s.setItem(k, v);
  } catch {}
  return null;
};
