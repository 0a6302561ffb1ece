import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonical, preimages } from '../../../worker/scoring/case-fold';
import { compilePattern, patternProblem } from '../../../worker/scoring/pattern';

const CHARS = fc.constantFrom('a', 'b', 'A', 'é', 'É', 'ß', 'ſ', 'K', 'k', '1', ' ', '-', '_', '.', '{', '}', ']');
const ESCAPES = fc.constantFrom('\\d', '\\w', '\\s', '\\D', '\\W', '\\S', '\\.', '\\x41', '\\u00e9', '\\n', '\\-', '\\cJ', '(?:\\0)');
const CLASSES = fc.constantFrom('[a-c]', '[^b]', '[A-Z0-9]', '[\\w-]', '[é-ë]', '[^\\s]', '[-a]', '[\\b]', '[^]', '[.]', '[\\dK]', '[k-m]');
const ANCHORS = fc.constantFrom('^', '$', '\\b', '\\B');
const ANY_COUNT = fc.constantFrom('', '', '', '*', '+', '?', '{2}', '{1,2}', '{0,}', '{2,3}', '*?', '+?', '??');
const BOUNDED_COUNT = fc.constantFrom('', '', '?', '{2}', '{1,2}', '??');
const OPEN = fc.constantFrom('(', '(?:', '(?<g>');
const alternatives = (sequence: fc.Arbitrary<string>) => fc.array(sequence, { minLength: 1, maxLength: 3 }).map((options) => options.join('|'));

/**
 * Patterns of the syntax the matcher takes: characters, escapes, classes, groups, counts, anchors.
 * Groups nest, counted at most a bounded number of times: RegExp, the oracle, takes exponential
 * time over unbounded counts of groups of unbounded counts (one in some 300,000 such patterns hung
 * it for minutes), which are left to `oneLevel`.
 */
const { pattern } = fc.letrec<{ atom: string; term: string; sequence: string; pattern: string }>((tie) => ({
  atom: fc.oneof({ depthSize: 'small', withCrossShrink: true }, CHARS, ESCAPES, CLASSES),
  term: fc.oneof(
    fc.tuple(tie('atom'), ANY_COUNT).map(([a, q]) => a + q),
    fc.tuple(OPEN, tie('pattern'), BOUNDED_COUNT).map(([open, inner, q]) => `${open}${inner})${q}`),
    ANCHORS,
  ),
  sequence: fc.array(tie('term'), { maxLength: 4 }).map((terms) => terms.join('')),
  pattern: alternatives(tie('sequence')),
}));

/** Groups of characters, counted any number of times, not nested. */
const flatSequence = fc.array(fc.oneof(fc.tuple(fc.oneof(CHARS, ESCAPES, CLASSES), ANY_COUNT).map(([a, q]) => a + q), ANCHORS), { maxLength: 3 }).map((t) => t.join(''));
const oneLevel = alternatives(
  fc.array(fc.oneof(fc.tuple(OPEN, alternatives(flatSequence), ANY_COUNT).map(([open, inner, q]) => `${open}${inner})${q}`), flatSequence), { maxLength: 3 }).map((t) => t.join('')),
);

const text = fc.string({ unit: fc.constantFrom('a', 'b', 'A', 'B', 'é', 'É', 'ß', 'ſ', 'K', 'k', '1', ' ', '-', '_', '.', '\n', '\b', '\0', 'x', '{'), maxLength: 12 });

const sameAsRegExp = (source: string, texts: string[]) => {
  let expected: RegExp;
  try {
    expected = new RegExp(source, 'i');
  } catch {
    return fc.pre(false);
  }
  const compiled = compilePattern(source);
  for (const t of texts) expect([t, compiled.test(t)]).toEqual([t, expected.test(t)]);
  // Asked again, from the steps built the first time: the same answers.
  for (const t of texts) expect(compiled.test(t)).toBe(expected.test(t));
};

describe('matches patterns', () => {
  it('match as RegExp with the i flag does, for random patterns and texts', () => {
    fc.assert(fc.property(pattern, fc.array(text, { minLength: 1, maxLength: 8 }), sameAsRegExp), { numRuns: 3000 });
  });

  it('match as RegExp does with groups counted without bound', () => {
    fc.assert(fc.property(oneLevel, fc.array(text, { minLength: 1, maxLength: 8 }), sameAsRegExp), { numRuns: 2000 });
  });

  it('keeps its answers when its cache of steps outgrows its bound and is built again, mid-text', () => {
    const source = '(\\w|[^\\d])\\S{2}é$';
    const compiled = compilePattern(source);
    const expected = new RegExp(source, 'i');
    // 30,000 distinct characters, each a step not met before.
    const many = Array.from({ length: 30_000 }, (_, i) => String.fromCharCode(0x4e00 + i)).join('');
    for (const t of [`${many}é`, many, `${many}xyÉ`, 'é', `${many}${many}é`]) expect(compiled.test(t)).toBe(expected.test(t));
  });

  it("knows, for every character, the characters of the same case-folded form, as this runtime's case mapping says", () => {
    const byForm = new Map<number, number[]>();
    for (let c = 0; c < 65_536; c++) {
      const form = canonical(c);
      byForm.set(form, [...(byForm.get(form) ?? []), c]);
    }
    for (const [form, units] of byForm) expect([form, [...preimages(form)].sort((a, b) => a - b)]).toEqual([form, units]);
  });

  it("matches the default model's patterns as written", () => {
    const senior = compilePattern('\\b(head|director|directeur|directrice|vp|vice[- ]president|chief|c[emt]o|founder|owner)\\b');
    expect(['Head of Marketing', 'VP Sales', 'Vice-President', 'CEO', 'Directrice marketing'].map((t) => senior.test(t))).toEqual([true, true, true, true, true]);
    expect(['Headhunter', 'Chief-of-staff assistant', 'Cook'].map((t) => senior.test(t))).toEqual([false, true, false]);
    const student = compilePattern('student|[ée]tudiant|\\bintern\\b|stagiaire|alternant');
    expect(['ÉTUDIANT en master', 'Etudiante', 'Summer intern', 'Internal auditor'].map((t) => student.test(t))).toEqual([true, true, true, false]);
  });

  it('takes time in proportion to the text, where RegExp backtracks for ever', () => {
    // RegExp would try 2^30000 ways of splitting the a's before saying no; one pass says it here.
    const evil = compilePattern('^(\\w+\\s?)+$');
    expect(evil.test(`${'a'.repeat(30_000)}!`)).toBe(false);
    expect(evil.test(`${'a'.repeat(30_000)} b`)).toBe(true);
    expect(compilePattern('(a|aa)+$').test(`${'a'.repeat(30_000)}b`)).toBe(false);
    expect(compilePattern('(x+x+)+y').test('x'.repeat(30_000))).toBe(false);
  });

  it('refuses what needs backtracking, and says why', () => {
    const problems = {
      '(?=a)b': /lookahead and lookbehind .* not supported/,
      'a(?!b)': /lookahead and lookbehind/,
      '(?<=a)b': /lookahead and lookbehind/,
      '(?<!a)b': /lookahead and lookbehind/,
      '(a)\\1': /back-references .* not supported/,
      '(?<x>a)\\k<x>': /back-references/,
      'a{2000}': /counts above 1,000/,
      '(\\w{1,100}){100}': /too large/,
      '\\01': /octal escapes/,
      '(': /not a valid regular expression/,
      '[z-a]': /not a valid regular expression/,
      '*a': /not a valid regular expression/,
    };
    for (const [source, why] of Object.entries(problems)) expect([source, patternProblem(source)]).toEqual([source, expect.stringMatching(why)]);
    for (const source of ['^head', 'a{,2}', '\\k', '[\\w-]', '(?:a|b)+', '(?<name>x)?y']) expect([source, patternProblem(source)]).toEqual([source, null]);
  });
});
