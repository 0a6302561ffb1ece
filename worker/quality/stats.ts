/** @module The small statistics the quality report rests on: proportions with their intervals, medians, AUC. */

/** A proportion `k` of `n` with its 95% Wilson score interval; null rate and bounds when `n` is 0. */
export interface Proportion {
  k: number;
  n: number;
  rate: number | null;
  low: number | null;
  high: number | null;
}

const Z95 = 1.959963984540054;

/**
 * The Wilson score interval rather than the textbook `p ± z·√(p(1-p)/n)`: conversion counts here
 * are small and rates near 0 or 1, where the textbook interval leaves [0, 1] or collapses to a point.
 *
 * @example wilson(5, 10) // { k: 5, n: 10, rate: 0.5, low: 0.2366…, high: 0.7633… }
 */
export function wilson(k: number, n: number, z = Z95): Proportion {
  if (n <= 0) return { k, n, rate: null, low: null, high: null };
  const p = k / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { k, n, rate: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * The probability that a won lead scores above a lost one, ties counting half (the area under the
 * ROC curve, as the Mann–Whitney U statistic): 0.5 is a model that ranks at random, 1 a perfect one.
 * Ranks are used so that thousands of leads cost a sort, not a product of the two lists.
 */
export function auc(won: readonly number[], lost: readonly number[]): number | null {
  if (won.length === 0 || lost.length === 0) return null;
  const all = [...won.map((s) => ({ s, won: true })), ...lost.map((s) => ({ s, won: false }))].sort((a, b) => a.s - b.s);
  let rankSumWon = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j]!.s === all[i]!.s) j++;
    // Tied scores share the mean of the ranks they span (1-based).
    const rank = (i + 1 + j) / 2;
    for (let t = i; t < j; t++) if (all[t]!.won) rankSumWon += rank;
    i = j;
  }
  return (rankSumWon - (won.length * (won.length + 1)) / 2) / (won.length * lost.length);
}
