/**
 * @module A band's colour, by its place among the model's bands, for its card and its line on the
 * charts alike: band names are the site owner's to choose, so nothing can be keyed on them.
 */
export type Tone = 'low' | 'mid' | 'high' | 'excluded';

/** The first band is low, the last high, every band between them mid. */
export function toneFor(index: number, length: number): Tone {
  if (index === 0) return 'low';
  if (index === length - 1) return 'high';
  return 'mid';
}
