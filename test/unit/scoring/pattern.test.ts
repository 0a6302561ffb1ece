import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePattern, patternProblem } from '../../../worker/scoring/pattern';

/** Patterns of the syntax the matcher takes: characters, escapes, classes, groups, counts, anchors. */
const { pattern } = fc.letrec<{ atom: string; term: string; sequence: string; pattern: string }>((tie) => ({
  atom: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('a', 'b', 'A', 'é', 'É', 'ß', 'ſ', 'K', 'k', '1', ' ', '-', '_', '.', '{', '}', ']'),
    fc.constantFrom('\\d', '\\w', '\\s', '\\D', '\\W', '\\S', '\\.', '\\x41', '\\u00e9', '\\n', '\\-', '\\cJ', '(?:\\0)'),
    fc.constantFrom('[a-c]', '[^b]', '[A-Z0-9]', '[\\w-]', '[é-ë]', '[^\\s]', '[-a]', '[\\b]', '[^]', '[.]', '[\\dK]', '[k-m]'),
    fc.tuple(fc.constantFrom('(', '(?:', '(?<g>'), tie('pattern')).map(([open, inner]) => `${open}${inner})`),
  ),
  term: fc.oneof(
    fc.tuple(tie('atom'), fc.constantFrom('', '', '', '*', '+', '?', '{2}', '{1,2}', '{0,}', '{2,3}', '*?', '+?', '??')).map(([a, q]) => a + q),
    fc.constantFrom('^', '$', '\\b', '\\B'),
  ),
  sequence: fc.array(tie('term'), { maxLength: 4 }).map((terms) => terms.join('')),
  pattern: fc.array(tie('sequence'), { minLength: 1, maxLength: 3 }).map((options) => options.join('|')),
}));

const text = fc.string({ unit: fc.constantFrom('a', 'b', 'A', 'B', 'é', 'É', 'ß', 'ſ', 'K', 'k', '1', ' ', '-', '_', '.', '\n', '\b', '\0', 'x', '{'), maxLength: 12 });

describe('matches patterns', () => {
  it('match as RegExp with the i flag does, for random patterns and texts', () => {
    fc.assert(
      fc.property(pattern, fc.array(text, { minLength: 1, maxLength: 8 }), (source, texts) => {
        let expected: RegExp;
        try {
          expected = new RegExp(source, 'i');
        } catch {
          return fc.pre(false);
        }
        const compiled = compilePattern(source);
        for (const t of texts) expect([t, compiled.test(t)]).toEqual([t, expected.test(t)]);
        // Asked again, from the texts remembered: the same answers.
        for (const t of texts) expect(compiled.test(t)).toBe(expected.test(t));
      }),
      { numRuns: 3000 },
    );
  });

  it('keeps its answers when its cache of steps outgrows its bound and is built again, mid-text', () => {
    const source = '(\\w|[^\\d])\\S{2}é$';
    const compiled = compilePattern(source);
    const expected = new RegExp(source, 'i');
    // 30,000 distinct characters, each a step not met before.
    const many = Array.from({ length: 30_000 }, (_, i) => String.fromCharCode(0x4e00 + i)).join('');
    for (const t of [`${many}é`, many, `${many}xyÉ`, 'é', `${many}${many}é`]) expect(compiled.test(t)).toBe(expected.test(t));
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
