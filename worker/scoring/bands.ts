/** @module Which band a total score falls in. */
import type { Band } from './model';

/** The last band whose `min` the score reaches; the first band also holds every lower score. */
export function bandFor(bands: readonly Band[], total: number): Band {
  let band = bands[0]!;
  for (const b of bands) if (total >= b.min) band = b;
  return band;
}
