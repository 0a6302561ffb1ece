/**
 * @module The patterns of `matches` profile conditions: JavaScript's regular expression syntax,
 * case-insensitive as with the `i` flag, run in time linear in the text whatever the pattern.
 *
 * Not `RegExp`, because V8's engine backtracks: `^(\w+\s?)+$` takes exponential time on a value made
 * for it. The pattern is the marketer's, but the value is anyone's, a form field a visitor typed, and
 * one such value would stall every scoring of its lead past a Worker's CPU limit: its live events
 * answered with errors, a recompute retrying the same chunk for ever. A pattern here compiles to a
 * Thompson automaton, run as a DFA built as texts need it, in one pass of the text (a condition
 * only asks whether the text matches: no captures). What cannot run so, back-references and
 * lookaround, is refused when the model is saved, with the reason.
 */

import { canonical, preimages } from './case-fold';

/** Why a pattern cannot be used: the message a refused model names it with. */
export class PatternError extends Error {}

/** States an automaton may have: `\w{200}` takes 201; a count of a count multiplies. */
const MAX_STATES = 5_000;
/** The largest count (`{n}`, `{n,m}`) a pattern may give. */
const MAX_COUNT = 1_000;

const CHAR = 0;
const SPLIT = 1;
const ASSERT = 2;
const MATCH = 3;

type Assertion = '^' | '$' | 'b' | 'B';
/** A set of UTF-16 code units, as sorted inclusive ranges. */
type Ranges = readonly (readonly [number, number])[];
/** Tests an input character, given in its canonical form (see `canonical`). */
type CharTest = (canonicalCode: number) => boolean;

type Node =
  | { t: 'char'; test: CharTest }
  | { t: 'assert'; kind: Assertion }
  | { t: 'cat'; items: Node[] }
  | { t: 'alt'; options: Node[] }
  | { t: 'repeat'; node: Node; min: number; max: number };

const inRanges = (ranges: Ranges, c: number) => ranges.some(([lo, hi]) => c >= lo && c <= hi);

/** A character set's test, negated or not: ECMAScript's CharacterSetMatcher under `i`. */
const setTest = (ranges: Ranges, negate: boolean): CharTest => (cc) => preimages(cc).some((c) => inRanges(ranges, c)) !== negate;

const complement = (ranges: Ranges): Ranges => {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  let next = 0;
  for (const [lo, hi] of sorted) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= 0xffff) out.push([next, 0xffff]);
  return out;
};

const DIGITS: Ranges = [[48, 57]];
const WORD: Ranges = [[48, 57], [65, 90], [95, 95], [97, 122]];
const SPACE: Ranges = [
  [9, 13], [32, 32], [0xa0, 0xa0], [0x1680, 0x1680], [0x2000, 0x200a], [0x2028, 0x2029], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000], [0xfeff, 0xfeff],
];
const LINE_TERMINATORS: Ranges = [[10, 10], [13, 13], [0x2028, 0x2029]];
const CLASS_ESCAPES: Record<string, Ranges> = {
  d: DIGITS,
  D: complement(DIGITS),
  w: WORD,
  W: complement(WORD),
  s: SPACE,
  S: complement(SPACE),
};
const ANY_BUT_LINE_TERMINATORS = setTest(complement(LINE_TERMINATORS), false);

const isWord = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || c === 95 || (c >= 97 && c <= 122);

// --- Parsing: the syntax `new RegExp(source, 'i')` accepts, which is checked first ---

const unsupported = (what: string) =>
  new PatternError(`${what} are not supported: a pattern must run in time proportional to the text it is matched against`);

class Parser {
  private i = 0;
  constructor(private readonly src: string) {}

  parse(): Node {
    const node = this.disjunction();
    if (this.i < this.src.length) throw new PatternError(`unexpected "${this.src[this.i]}" at ${this.i}`);
    return node;
  }

  private peek(offset = 0): string | undefined {
    return this.src[this.i + offset];
  }

  private disjunction(): Node {
    const options = [this.alternative()];
    while (this.peek() === '|') {
      this.i++;
      options.push(this.alternative());
    }
    return options.length === 1 ? options[0]! : { t: 'alt', options };
  }

  private alternative(): Node {
    const items: Node[] = [];
    while (this.i < this.src.length && this.peek() !== '|' && this.peek() !== ')') items.push(this.term());
    return { t: 'cat', items };
  }

  private term(): Node {
    const c = this.peek();
    if (c === '^' || c === '$') {
      this.i++;
      return { t: 'assert', kind: c };
    }
    if (c === '\\' && (this.peek(1) === 'b' || this.peek(1) === 'B')) {
      this.i += 2;
      return { t: 'assert', kind: this.src[this.i - 1] as 'b' | 'B' };
    }
    return this.quantified(this.atom());
  }

  private quantified(atom: Node): Node {
    let min: number;
    let max: number;
    const c = this.peek();
    if (c === '*') [min, max] = [0, Infinity];
    else if (c === '+') [min, max] = [1, Infinity];
    else if (c === '?') [min, max] = [0, 1];
    else if (c === '{') {
      // Not a count ("{", "{a}"): a literal "{", which the next term reads.
      const count = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.i));
      if (!count) return atom;
      min = Number(count[1]);
      max = count[2] === undefined ? min : count[3] ? Number(count[3]) : Infinity;
      this.i += count[0].length - 1;
    } else return atom;
    if (min > MAX_COUNT || (max !== Infinity && max > MAX_COUNT)) throw new PatternError(`counts above ${MAX_COUNT.toLocaleString('en')} are not supported`);
    this.i++;
    // Lazy or greedy, the same texts match.
    if (this.peek() === '?') this.i++;
    return { t: 'repeat', node: atom, min, max };
  }

  private atom(): Node {
    const c = this.src[this.i]!;
    if (c === '.') {
      this.i++;
      return { t: 'char', test: ANY_BUT_LINE_TERMINATORS };
    }
    if (c === '(') return this.group();
    if (c === '[') return this.charClass();
    if (c === '\\') {
      this.i++;
      const e = this.src[this.i++]!;
      if (/[1-9]/.test(e) || (e === 'k' && this.peek() === '<')) throw unsupported('back-references (\\1, \\k<name>)');
      const set = CLASS_ESCAPES[e];
      return set ? { t: 'char', test: setTest(set, false) } : this.literal(this.escaped(e));
    }
    this.i++;
    return this.literal(c.charCodeAt(0));
  }

  private literal(code: number): Node {
    const cc = canonical(code);
    return { t: 'char', test: (c) => c === cc };
  }

  private group(): Node {
    this.i++;
    if (/^\?(=|!|<=|<!)/.test(this.src.slice(this.i))) throw unsupported('lookahead and lookbehind ((?=, (?!, (?<=, (?<!)');
    if (this.src.startsWith('?:', this.i)) this.i += 2;
    else if (this.src.startsWith('?<', this.i)) this.i = this.src.indexOf('>', this.i) + 1;
    else if (this.peek() === '?') throw new PatternError(`the group "(${this.src.slice(this.i, this.i + 3)}" is not supported`);
    const inner = this.disjunction();
    if (this.peek() !== ')') throw new PatternError('a group is not closed');
    this.i++;
    return inner;
  }

  /** The code unit of an escape, `e` the character after the backslash, outside a class or in one. */
  private escaped(e: string): number {
    switch (e) {
      case 't':
        return 9;
      case 'n':
        return 10;
      case 'v':
        return 11;
      case 'f':
        return 12;
      case 'r':
        return 13;
      case '0':
        if (/[0-9]/.test(this.peek() ?? '')) throw new PatternError('octal escapes are not supported: write \\xHH');
        return 0;
      case 'c': {
        const letter = this.peek() ?? '';
        if (/[A-Za-z]/.test(letter)) {
          this.i++;
          return letter.charCodeAt(0) % 32;
        }
        // "\c" not followed by a letter is a backslash, then the "c" read again.
        this.i--;
        return 92;
      }
      case 'x':
      case 'u': {
        const digits = e === 'x' ? 2 : 4;
        const hex = this.src.slice(this.i, this.i + digits);
        if (hex.length === digits && /^[0-9a-fA-F]+$/.test(hex)) {
          this.i += digits;
          return parseInt(hex, 16);
        }
        // Without its digits, the letter itself ("\u{2}" is two "u"s without the `u` flag).
        return e.charCodeAt(0);
      }
      default:
        return e.charCodeAt(0);
    }
  }

  private charClass(): Node {
    this.i++;
    const negate = this.peek() === '^';
    if (negate) this.i++;
    const ranges: [number, number][] = [];
    const add = (a: number | Ranges) => (typeof a === 'number' ? ranges.push([a, a]) : ranges.push(...a.map(([lo, hi]) => [lo, hi] as [number, number])));
    while (this.peek() !== ']') {
      if (this.i >= this.src.length) throw new PatternError('a character class is not closed');
      const from = this.classAtom();
      if (this.peek() === '-' && this.peek(1) !== ']' && this.i + 1 < this.src.length) {
        this.i++;
        const to = this.classAtom();
        // A range with a class escape at either end ("[\w-z]") is its parts and a "-".
        if (typeof from !== 'number' || typeof to !== 'number') [from, 45, to].forEach(add);
        else ranges.push([from, to]);
      } else add(from);
    }
    this.i++;
    return { t: 'char', test: setTest(ranges, negate) };
  }

  private classAtom(): number | Ranges {
    const c = this.src[this.i++]!;
    if (c !== '\\') return c.charCodeAt(0);
    const e = this.src[this.i++]!;
    if (e === 'b') return 8;
    if (e === '-') return 45;
    if (/[1-9]/.test(e)) throw new PatternError('octal escapes are not supported: write \\xHH');
    if (e === 'c' && /[0-9_]/.test(this.peek() ?? '')) return this.src.charCodeAt(this.i++) % 32;
    return CLASS_ESCAPES[e] ?? this.escaped(e);
  }
}

// --- The automaton ---

interface Automaton {
  kind: Uint8Array;
  out: Int32Array;
  out2: Int32Array;
  tests: (CharTest | undefined)[];
  asserts: (Assertion | undefined)[];
  start: number;
}

function compile(root: Node): Automaton {
  const kind: number[] = [];
  const out: number[] = [];
  const out2: number[] = [];
  const tests: (CharTest | undefined)[] = [];
  const asserts: (Assertion | undefined)[] = [];
  const state = (k: number, next: number, next2 = -1, test?: CharTest, assertion?: Assertion) => {
    if (kind.length >= MAX_STATES) throw new PatternError(`the pattern is too large: it takes more than ${MAX_STATES.toLocaleString('en')} states`);
    kind.push(k);
    out.push(next);
    out2.push(next2);
    tests.push(test);
    asserts.push(assertion);
    return kind.length - 1;
  };
  // Built from the end: each node is compiled knowing the state it goes on to.
  const build = (node: Node, next: number): number => {
    switch (node.t) {
      case 'char':
        return state(CHAR, next, -1, node.test);
      case 'assert':
        return state(ASSERT, next, -1, undefined, node.kind);
      case 'cat':
        return node.items.reduceRight((to, item) => build(item, to), next);
      case 'alt':
        return node.options.map((o) => build(o, next)).reduceRight((rest, first) => state(SPLIT, first, rest));
      case 'repeat': {
        let at = next;
        if (node.max === Infinity) {
          const loop = state(SPLIT, -1, next);
          out[loop] = build(node.node, loop);
          at = loop;
        } else {
          for (let k = node.min; k < node.max; k++) at = state(SPLIT, build(node.node, at), next);
        }
        for (let k = 0; k < node.min; k++) at = build(node.node, at);
        return at;
      }
    }
  };
  const match = state(MATCH, -1);
  const start = build(root, match);
  return {
    kind: Uint8Array.from(kind),
    out: Int32Array.from(out),
    out2: Int32Array.from(out2),
    tests,
    asserts,
    start,
  };
}

export interface Pattern {
  /** Whether the pattern matches somewhere in `text`, as `RegExp(source, 'i').test` would say. */
  test(text: string): boolean;
}

/** What came before a position: the assertions (`^`, `\b`) need no more of it. */
const AT_START = 0;
const AFTER_OTHER = 1;
const AFTER_WORD = 2;
/** A transition into the match: the text matches, whatever follows. */
const MATCHED = -1;
/** The end of the text, as the character after a position. */
const END = -1;
/** A transition not computed yet. */
const UNKNOWN = -2;
/** DFA transitions kept per pattern before they are dropped and built again as texts need them. */
const MAX_TRANSITIONS = 20_000;

interface DfaState {
  /** The automaton's states reached, before following what reads no character. */
  states: number[];
  before: number;
  /** Transitions on ASCII characters by code (UNKNOWN until computed), on others by code in `next`. */
  ascii: Int32Array;
  next: Map<number, number>;
  matchesAtEnd?: boolean;
}

/**
 * Compiles a pattern, or throws a `PatternError` (or the `SyntaxError` of an invalid one) saying why not.
 *
 * The automaton runs as a DFA built as texts need it, as RE2 does: each set of its states a position
 * can be in becomes one state, and the step from it on a character is computed once. A recompute
 * matches every lead's job title against the same patterns: 100,000 distinct titles took some
 * 500 ms stepping through sets of states, a few tens as a DFA (RegExp: about 10).
 */
export function compilePattern(source: string): Pattern {
  new RegExp(source, 'i');
  const a = compile(new Parser(source).parse());
  const mark = new Int32Array(a.kind.length).fill(-1);
  let generation = 0;
  const stack: number[] = [];

  let ids = new Map<string, number>();
  let dfa: DfaState[] = [];
  let transitions = 0;
  const intern = (states: number[], before: number): number => {
    states.sort((x, y) => x - y);
    const key = `${before}:${states.join(',')}`;
    let id = ids.get(key);
    if (id === undefined) {
      id = dfa.length;
      dfa.push({ states, before, ascii: new Int32Array(128).fill(UNKNOWN), next: new Map() });
      ids.set(key, id);
    }
    return id;
  };
  let initial = intern([], AT_START);

  const holds = (kind: Assertion, before: number, next: number): boolean => {
    switch (kind) {
      case '^':
        return before === AT_START;
      case '$':
        return next === END;
      default:
        return (before === AFTER_WORD) !== (next !== END && isWord(next)) === (kind === 'b');
    }
  };

  /**
   * The automaton's states `d` is in once what reads no character is followed, the next character
   * being `next`; a match may also start here (the text is searched, not anchored). MATCHED when
   * the match state is among them.
   */
  const closure = (d: DfaState, next: number): number[] | typeof MATCHED => {
    generation++;
    const list: number[] = [];
    stack.push(a.start, ...d.states);
    while (stack.length) {
      const s = stack.pop()!;
      if (mark[s] === generation) continue;
      mark[s] = generation;
      const kind = a.kind[s];
      if (kind === SPLIT) stack.push(a.out2[s]!, a.out[s]!);
      else if (kind === ASSERT) {
        if (holds(a.asserts[s]!, d.before, next)) stack.push(a.out[s]!);
      } else if (kind === MATCH) {
        stack.length = 0;
        return MATCHED;
      } else list.push(s);
    }
    return list;
  };

  const step = (d: DfaState, cc: number): number => {
    const closed = closure(d, cc);
    if (closed === MATCHED) return MATCHED;
    generation++;
    const reached: number[] = [];
    for (const s of closed) {
      const to = a.out[s]!;
      if (a.tests[s]!(cc) && mark[to] !== generation) {
        mark[to] = generation;
        reached.push(to);
      }
    }
    return intern(reached, isWord(cc) ? AFTER_WORD : AFTER_OTHER);
  };

  return {
    test(text) {
      let at = initial;
      for (let i = 0; i < text.length; i++) {
        const cc = canonical(text.charCodeAt(i));
        const d = dfa[at]!;
        let to = cc < 128 ? d.ascii[cc]! : (d.next.get(cc) ?? UNKNOWN);
        if (to === UNKNOWN) {
          if (transitions >= MAX_TRANSITIONS) {
            // A pattern and texts that make many states: start over, keeping where this text is.
            const { states, before } = d;
            ids = new Map();
            dfa = [];
            transitions = 0;
            initial = intern([], AT_START);
            at = intern([...states], before);
          }
          to = step(dfa[at]!, cc);
          if (cc < 128) dfa[at]!.ascii[cc] = to;
          else dfa[at]!.next.set(cc, to);
          transitions++;
        }
        if (to === MATCHED) return true;
        at = to;
      }
      const last = dfa[at]!;
      return (last.matchesAtEnd ??= closure(last, END) === MATCHED);
    },
  };
}

const compiled = new Map<string, Pattern>();
/**
 * `source` compiled once per isolate, its DFA's steps kept with it: a model's validation compiles
 * what its scoring then uses.
 */
export function pattern(source: string): Pattern {
  let p = compiled.get(source);
  if (!p) {
    p = compilePattern(source);
    if (compiled.size > 2000) compiled.clear();
    compiled.set(source, p);
  }
  return p;
}

/** Why `source` cannot be a pattern, or null when it can. */
export function patternProblem(source: string): string | null {
  try {
    pattern(source);
    return null;
  } catch (err) {
    if (err instanceof PatternError) return err.message;
    return `not a valid regular expression: ${(err as Error).message}`;
  }
}
