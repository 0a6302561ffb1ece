/**
 * @module The only way the dashboard builds DOM.
 *
 * Everything the API returns is attacker-controlled text (a visitor can type anything into a tracked
 * form). So this helper never parses markup: children become text nodes, attributes go through
 * `setAttribute` and only if their name is on a short list that cannot run script or load anything.
 * There is deliberately no way to pass an event handler, a `style`, a `src` or a data-driven `href`.
 */

/** Tags that can execute, embed or restyle the page are not buildable at all. */
type UnsafeTag = 'script' | 'iframe' | 'object' | 'embed' | 'style' | 'link' | 'meta' | 'base' | 'frame' | 'frameset';
export type SafeTag = Exclude<keyof HTMLElementTagNameMap, UnsafeTag>;

export type AttrValue = string | number | boolean | null | undefined;
export type Attrs = Readonly<Record<string, AttrValue>>;
export type Child = Node | string | number | null | undefined | false | readonly Child[];

/** Attributes whose value is inert text whatever it contains. */
const SAFE_ATTRIBUTES: ReadonlySet<string> = new Set([
  'id',
  'class',
  'role',
  'type',
  'name',
  'for',
  'scope',
  'colspan',
  'rowspan',
  'datetime',
  'title',
  'hidden',
  'disabled',
  'tabindex',
  'autocomplete',
  'spellcheck',
  'autocapitalize',
  'required',
  'placeholder',
  'lang',
  'dir',
  'inputmode',
  'start',
  'reversed',
  'rows',
  'checked',
  'value',
]);

/** `aria-*` and `data-*` values are never interpreted by the browser as URLs or code. */
const PREFIXED = /^(?:aria|data)-[a-z][a-z0-9-]*$/;

function setAttr(el: Element, name: string, value: AttrValue): void {
  if (value === null || value === undefined || value === false) return;
  const text = value === true ? '' : String(value);
  if (name === 'href') {
    // Only same-document fragments (our hash routes): a fragment can never be `javascript:` or leave
    // the page. Callers build them with encodeURIComponent; anything else is a programming error.
    if (!text.startsWith('#')) throw new Error('dom: only "#…" fragment links may be built');
  } else if (!SAFE_ATTRIBUTES.has(name) && !PREFIXED.test(name)) {
    throw new Error(`dom: attribute "${name}" is not on the safe list`);
  }
  el.setAttribute(name, text);
}

function append(parent: Node, child: Child): void {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) {
    for (const c of child as readonly Child[]) append(parent, c);
  } else if (typeof child === 'string' || typeof child === 'number') {
    parent.appendChild(document.createTextNode(String(child)));
  } else {
    parent.appendChild(child as Node);
  }
}

/** SVG presentation attributes that take numbers, lengths or keywords: nothing that loads or runs. */
const SVG_ATTRIBUTES: ReadonlySet<string> = new Set([
  'class',
  'role',
  'viewBox',
  'preserveAspectRatio',
  'focusable',
  'x',
  'y',
  'x1',
  'y1',
  'x2',
  'y2',
  'width',
  'height',
  'rx',
  'd',
  'points',
  'text-anchor',
  'dominant-baseline',
]);

type SvgTag = 'svg' | 'g' | 'rect' | 'line' | 'polyline' | 'path' | 'text' | 'title' | 'desc';

/** Builds an SVG element the way `h` builds HTML: text children only, attributes from a short list. */
export function s(tag: SvgTag, attrs?: Attrs | null, ...children: Child[]): SVGElement {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (!SVG_ATTRIBUTES.has(name) && !PREFIXED.test(name)) throw new Error(`dom: SVG attribute "${name}" is not on the safe list`);
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

/** Builds an element: `h('td', { class: 'num' }, lead.score)`. Strings always become text nodes. */
export function h<K extends SafeTag>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) for (const [name, value] of Object.entries(attrs)) setAttr(el, name, value);
  append(el, children);
  return el;
}

/** Replaces an element's content with the given children (as text nodes when strings). */
export function setChildren(el: Element, ...children: Child[]): void {
  const fragment = document.createDocumentFragment();
  append(fragment, children);
  el.replaceChildren(fragment);
}

/** Sets an element's text, never its markup. */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/** Looks up a static element of index.html; a missing one is a broken build, not a runtime case. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`dashboard: #${id} is missing from index.html`);
  return el as T;
}

/** Shows exactly one of several sibling views, using the `hidden` attribute (no inline styles: CSP). */
export function showOnly(visible: HTMLElement | null, all: readonly HTMLElement[]): void {
  for (const el of all) el.hidden = el !== visible;
}

/** Moves focus without scrolling the page, e.g. to a heading made focusable with tabindex="-1". */
export function focusQuietly(el: HTMLElement | null | undefined): void {
  el?.focus({ preventScroll: true });
}
