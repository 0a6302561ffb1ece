/**
 * @module JSON text as the model editor needs it: where a syntax error is (line and column, worded
 * the same in every browser, which `JSON.parse` messages are not) and where the value at a path
 * sits in the text, to take the user from a server issue such as `bands.1.min` to that spot.
 *
 * The scanner follows RFC 8259 strictly. Once it has accepted the text, the value itself comes from
 * `JSON.parse`, so that the document sent is exactly what the server will read.
 */

export interface TextPosition {
  /** UTF-16 offset into the text, as `setSelectionRange` takes it. */
  offset: number;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
}

export interface TextRange {
  start: TextPosition;
  /** Offset just past the value. */
  end: number;
}

export type JsonPath = readonly (string | number)[];

export type JsonText =
  | {
      ok: true;
      value: unknown;
      /** The value at `path`, or at its deepest ancestor present in the text. */
      locate(path: JsonPath): TextRange;
    }
  | { ok: false; message: string; at: TextPosition };

/** Nesting deeper than this is refused rather than risking the call stack; a model is ~6 deep. */
const MAX_DEPTH = 500;

class SyntaxProblem {
  constructor(
    readonly offset: number,
    readonly message: string,
  ) {}
}

const pathKey = (path: JsonPath): string => path.map(String).join('\u001f');

export function positionAt(text: string, offset: number): TextPosition {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(Math.max(offset, 0), text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { offset: end, line, column: end - lineStart + 1 };
}

/** What the character at `i` is, for messages: `'}'`, `the end of the text`… */
function describe(text: string, i: number): string {
  if (i >= text.length) return 'the end of the text';
  const c = text[i]!;
  if (c === '\n' || c === '\r') return 'a line break';
  if (c === '\t') return 'a tab';
  return `'${c}'`;
}

function scan(text: string): Map<string, [number, number]> {
  const ranges = new Map<string, [number, number]>();
  let i = 0;

  const fail = (message: string, at = i): never => {
    throw new SyntaxProblem(at, message);
  };
  const skipSpace = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else break;
    }
  };

  const string = (what: string): void => {
    if (text[i] === "'") fail('Use double quotes: JSON does not accept single quotes');
    if (text[i] !== '"') fail(`Expected ${what} in double quotes, found ${describe(text, i)}`);
    const start = i;
    i++;
    for (;;) {
      if (i >= text.length) fail('This string is never closed: a closing " is missing', start);
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        return;
      }
      if (c < 32) fail(c === 10 ? 'A string cannot span lines: close it with " or write \\n' : 'A control character must be escaped in a string');
      if (c === 92) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('\\u must be followed by four hexadecimal digits');
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          i += 2;
        } else {
          fail(`Unknown escape \\${e ?? ''}: use \\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX`);
        }
      } else {
        i++;
      }
    }
  };

  const number = (): void => {
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) fail(`Expected a value, found ${describe(text, i)}`);
    const next = text[i + m![0].length];
    if (next !== undefined && /[0-9.eE+\-a-zA-Z_]/.test(next)) fail('This is not a valid number', i);
    i += m![0].length;
  };

  const value = (path: (string | number)[], depth: number): void => {
    skipSpace();
    const start = i;
    if (depth > MAX_DEPTH) fail('The document is nested too deeply');
    const c = text[i];
    if (c === '{') {
      i++;
      skipSpace();
      if (text[i] === '}') {
        i++;
      } else {
        for (;;) {
          skipSpace();
          const keyStart = i;
          if (text[i] === '}') fail("Remove the comma before '}': JSON allows no trailing comma", keyStart);
          string('a property name');
          const key = JSON.parse(text.slice(keyStart, i)) as string;
          skipSpace();
          if (text[i] !== ':') fail(`Expected ':' after the property name, found ${describe(text, i)}`);
          i++;
          value([...path, key], depth + 1);
          skipSpace();
          if (text[i] === ',') {
            i++;
            continue;
          }
          if (text[i] === '}') {
            i++;
            break;
          }
          fail(`Expected ',' or '}' after the value of "${key}", found ${describe(text, i)}`);
        }
      }
    } else if (c === '[') {
      i++;
      skipSpace();
      if (text[i] === ']') {
        i++;
      } else {
        for (let index = 0; ; index++) {
          skipSpace();
          if (text[i] === ']') fail("Remove the comma before ']': JSON allows no trailing comma");
          value([...path, index], depth + 1);
          skipSpace();
          if (text[i] === ',') {
            i++;
            continue;
          }
          if (text[i] === ']') {
            i++;
            break;
          }
          fail(`Expected ',' or ']' after a list item, found ${describe(text, i)}`);
        }
      }
    } else if (c === '"') {
      string('a text');
    } else if (c === 't' || c === 'f' || c === 'n') {
      const word = c === 't' ? 'true' : c === 'f' ? 'false' : 'null';
      if (text.slice(i, i + word.length) !== word || /[a-zA-Z0-9_]/.test(text[i + word.length] ?? '')) {
        fail(`Unknown word: text values need double quotes, and only true, false and null go without`);
      }
      i += word.length;
    } else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      number();
    } else if (c === "'") {
      fail('Use double quotes: JSON does not accept single quotes');
    } else if (c === '}' || c === ']') {
      fail(`Expected a value, found ${describe(text, i)}`);
    } else {
      fail(c === undefined ? 'Expected a value, found the end of the text' : `Expected a value, found ${describe(text, i)}`);
    }
    ranges.set(pathKey(path), [start, i]);
  };

  skipSpace();
  if (i >= text.length) fail('The document is empty: it should be the model, an object in { }');
  value([], 0);
  skipSpace();
  if (i < text.length) fail(`Unexpected ${describe(text, i)} after the end of the document`);
  return ranges;
}

export function parseJsonText(text: string): JsonText {
  let ranges: Map<string, [number, number]>;
  try {
    ranges = scan(text);
  } catch (err) {
    if (err instanceof SyntaxProblem) return { ok: false, message: err.message, at: positionAt(text, err.offset) };
    if (err instanceof RangeError) return { ok: false, message: 'The document is nested too deeply', at: positionAt(text, 0) };
    throw err;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // Only if the scanner and the browser ever disagree: trust the browser, place the error at the start.
    return { ok: false, message: err instanceof Error ? err.message : String(err), at: positionAt(text, 0) };
  }
  return {
    ok: true,
    value,
    locate(path) {
      for (let n = path.length; n >= 0; n--) {
        const r = ranges.get(pathKey(path.slice(0, n)));
        if (r) return { start: positionAt(text, r[0]), end: r[1] };
      }
      return { start: positionAt(text, 0), end: text.length };
    },
  };
}
