/** @module Scores are kept to the hundredth: bands and stages are decided on the rounded values. */
export const round2 = (n: number): number => Math.round(n * 100) / 100 || 0;
