/** The model editor's JSON scanner: the same verdict as JSON.parse, with a line and column to show. */
import { describe, expect, it } from 'vitest';
import { parseJsonText } from '../../../dashboard/src/json-text';

const problem = (text: string) => {
  const r = parseJsonText(text);
  if (r.ok) throw new Error(`accepted: ${text}`);
  return { line: r.at.line, column: r.at.column, message: r.message };
};

describe('parseJsonText', () => {
  it('gives the value JSON.parse gives', () => {
    const text = '{\n  "a": [1, -2.5e3, true, null, "x\\"\\u00e9"],\n  "__proto__": {"b": {}}\n}';
    const r = parseJsonText(text);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.value).toEqual(JSON.parse(text));
  });

  it.each([
    ['{\n  "a": 1,\n}', 3, 1, 'trailing comma'],
    ['{\n  "a": 1\n  "b": 2\n}', 3, 3, "Expected ',' or '}'"],
    ["{'a': 1}", 1, 2, 'double quotes'],
    ['{"a": tru}', 1, 7, 'Unknown word'],
    ['{"a": 01}', 1, 7, 'not a valid number'],
    ['{"a": "line\nbreak"}', 1, 12, 'cannot span lines'],
    ['{"a": "\\x"}', 1, 8, 'Unknown escape'],
    ['[1, 2', 1, 6, "Expected ',' or ']'"],
    ['{} {}', 1, 4, 'after the end'],
    ['  ', 1, 3, 'empty'],
    ['{"a": "never closed}', 1, 7, 'never closed'],
  ])('names the spot of %j', (text, line, column, words) => {
    expect(() => JSON.parse(text)).toThrow();
    const p = problem(text);
    expect([p.line, p.column]).toEqual([line, column]);
    expect(p.message).toContain(words);
  });

  it('locates the value at a path, or its nearest ancestor', () => {
    const text = '{\n  "bands": [\n    {"name": "cold", "min": 0},\n    {"name": "warm", "min": 25}\n  ]\n}';
    const r = parseJsonText(text);
    if (!r.ok) throw new Error(r.message);
    const min = r.locate(['bands', 1, 'min']);
    expect([min.start.line, text.slice(min.start.offset, min.end)]).toEqual([4, '25']);
    expect(r.locate(['bands', 1, 'when', 'path']).start.offset).toBe(text.indexOf('{"name": "warm"'));
    expect(r.locate([]).start.offset).toBe(0);
  });

  it('refuses nesting deeper than a model could need instead of overflowing the stack', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(parseJsonText(deep).ok).toBe(false);
  });
});
