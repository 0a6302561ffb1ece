/**
 * @module Case folding as a regular expression's `i` flag does it without `u` (ECMAScript's
 * Canonicalize): characters compare by their canonical form, and a set holds a character when it
 * holds any character of the same form. For `pattern`, which must agree with `RegExp` on it.
 */

/** A code unit's canonical form: its upper case, unless that takes two units or makes a non-ASCII letter ASCII (ſ, ı, K). */
function canonicalOf(c: number): number {
  const upper = String.fromCharCode(c).toUpperCase();
  const u = upper.length === 1 ? upper.charCodeAt(0) : c;
  return c >= 128 && u < 128 ? c : u;
}

/** A code unit's canonical form: letters compare by it. */
export function canonical(c: number): number {
  if (c < 128) return c >= 97 && c <= 122 ? c - 32 : c;
  return canonicalOf(c);
}

/**
 * The non-ASCII units whose canonical form is neither themselves nor the lower case of that form,
 * by form (µ is Μ's as μ is; ς is Σ's as σ is): 25 of them in Unicode's BMP, listed here rather
 * than found by scanning 65,536 units at a Worker's first request (some 30–80 ms).
 * `pattern.test.ts` checks the list against the runtime's own case mapping.
 */
const OTHER_PREIMAGES: ReadonlyMap<number, readonly number[]> = new Map(
  (
    [
      [0xb5, 0x39c], [0x1c5, 0x1c4], [0x1c8, 0x1c7], [0x1cb, 0x1ca], [0x1f2, 0x1f1], [0x345, 0x399], [0x3c2, 0x3a3],
      [0x3d0, 0x392], [0x3d1, 0x398], [0x3d5, 0x3a6], [0x3d6, 0x3a0], [0x3f0, 0x39a], [0x3f1, 0x3a1], [0x3f5, 0x395],
      [0x1c80, 0x412], [0x1c81, 0x414], [0x1c82, 0x41e], [0x1c83, 0x421], [0x1c84, 0x422], [0x1c85, 0x422], [0x1c86, 0x42a],
      [0x1c87, 0x462], [0x1c88, 0xa64a], [0x1e9b, 0x1e60], [0x1fbe, 0x399],
    ] as const
  ).reduce((byForm, [unit, form]) => byForm.set(form, [...(byForm.get(form) ?? []), unit]), new Map<number, number[]>()),
);

const ASCII_PREIMAGES = Array.from({ length: 128 }, (_, c) => (c >= 65 && c <= 90 ? [c, c + 32] : [c]));

/** The units whose canonical form is `cc`: a set holds the input character when it holds one of them. */
export function preimages(cc: number): readonly number[] {
  if (cc < 128) return ASCII_PREIMAGES[cc]!;
  const lower = String.fromCharCode(cc).toLowerCase();
  const l = lower.length === 1 ? lower.charCodeAt(0) : cc;
  const units = l !== cc && canonicalOf(l) === cc ? [cc, l] : [cc];
  const others = OTHER_PREIMAGES.get(cc);
  return others ? [...units, ...others] : units;
}
