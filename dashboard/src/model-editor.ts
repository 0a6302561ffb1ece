/**
 * @module The model editor (`#model`): the scoring model as a JSON document and as a small form
 * for its most-edited parts (bands, behaviour rules' points), checked and previewed by the server
 * as the user types, saved as a new version whose recalculation is followed live, and older
 * versions restored.
 *
 * The JSON text is the single source of truth. The form writes into it (the text is then
 * re-printed) and is refreshed from it; when the text does not parse, the form waits. The server
 * checks a candidate with the schema it saves with, through `POST /v1/model/preview`, one request
 * at a time: edits made meanwhile are checked once it answers. Save is only enabled when the preview
 * on screen is the preview of the text in the editor, so what is saved is what was previewed.
 *
 * Rule labels, band names, branches, API key ids and e-mails are all shown as text through `h`.
 */
import { type Api, ApiError, type ApiIssue, EXCLUDED, isAbort, isUnauthorized } from './api';
import { type Child, focusQuietly, h, setChildren, setText } from './dom';
import { dimensionLabel, displayValue, formatPoints, formatScore, plural, timeEl } from './format';
import { type JsonPath, type JsonText, type TextPosition, parseJsonText } from './json-text';
import { createPoller, type Poller } from './live';
import type { ModelPreview, ModelVersions, Recompute, SavedModel } from './model-types';
import { leadHref } from './router';

export interface ModelEditorOptions {
  /** The view's root, `#model-view`. */
  root: HTMLElement;
  onUnauthorized(err: ApiError): void;
}

export interface ModelEditorView {
  /** Shows the editor; loads the model the first time (and whenever there is no unsaved draft). */
  show(api: Api, focus: boolean): void;
  /** The user left the view: stop polling and checking. A draft stays for when they come back. */
  stop(): void;
  /** Signed out: drop the model, the draft and everything shown. */
  clear(): void;
  /**
   * Puts a candidate model (a suggestion) in the editor as an unsaved draft, in place of any
   * other: shown, checked and previewed at the next `show`, saved only if the user saves it.
   */
  propose(model: unknown): void;
}

/** How long typing must pause before the server checks the candidate. */
export const CHECK_DELAY_MS = 600;
/** How often a running recalculation is polled. */
export const PROGRESS_MS = 1000;
/** How many of the leads that would move the preview lists. */
const SAMPLE = 20;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const pretty = (model: unknown): string => `${JSON.stringify(model, null, 2)}\n`;
const numberFormat = new Intl.NumberFormat();
const count = (n: unknown): string => (typeof n === 'number' && Number.isFinite(n) ? numberFormat.format(n) : '–');
const segmentLabel = (name: unknown): string => (name === EXCLUDED ? 'Excluded' : displayValue(name));
const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));
/** An issue's path inside the model: the preview request wraps it in `{"model": …}`. */
const modelPath = (issue: ApiIssue): (string | number)[] => {
  const path = Array.isArray(issue.path) ? issue.path.filter((p) => typeof p === 'string' || typeof p === 'number') : [];
  return path[0] === 'model' ? path.slice(1) : path;
};
const pathText = (path: JsonPath): string => (path.length ? path.join('.') : 'the whole model');

interface Base {
  version: number;
  text: string;
  /** `JSON.stringify` of the saved model, to tell a real change from a re-indentation. */
  canonical: string;
}

/** The outcome of checking one exact text; shown only while that text is in the editor. */
type Check =
  | { text: string; kind: 'unchanged' }
  | { text: string; kind: 'syntax'; message: string; at: TextPosition }
  | { text: string; kind: 'invalid'; issues: { path: (string | number)[]; message: string }[] }
  | { text: string; kind: 'valid'; preview: ModelPreview }
  | { text: string; kind: 'error'; message: string };

interface Field {
  path: (string | number)[];
  kind: 'text' | 'number';
  input: HTMLInputElement;
  error: HTMLElement;
}

export function createModelEditor(opts: ModelEditorOptions): ModelEditorView {
  // ---- The skeleton, built once ----
  const title = h('h1', { id: 'model-title', tabindex: -1 }, 'Scoring model');
  const summary = h('p', { class: 'muted', id: 'model-summary' });
  const loadStatus = h('p', { class: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' });
  const loadError = h('div', { class: 'alert load-error', role: 'alert', hidden: true });

  const conflict = h('section', { class: 'panel conflict', id: 'model-conflict', 'aria-labelledby': 'model-conflict-title', hidden: true });

  const progressTitle = h('h2', { id: 'model-progress-title', tabindex: -1 }, 'Recalculation');
  const progressBar = h('progress', { id: 'model-progress-bar', 'aria-labelledby': 'model-progress-title', 'aria-describedby': 'model-progress-text' });
  const progressText = h('p', { id: 'model-progress-text', class: 'progress-text' });
  const progressLive = h('p', { class: 'progress-status', id: 'model-progress-status', 'aria-live': 'polite', 'aria-atomic': 'true' });
  const progressNote = h('p', { class: 'hint', hidden: true });
  const progressActions = h('div', { class: 'actions', hidden: true });
  const progressPanel = h(
    'section',
    { class: 'panel progress-panel', 'aria-labelledby': 'model-progress-title', id: 'model-progress', hidden: true },
    progressTitle,
    progressLive,
    progressBar,
    progressText,
    progressNote,
    progressActions,
  );

  const dirtyBadge = h('span', { class: 'badge badge-dirty', hidden: true }, 'Unsaved changes');
  const discard = h('button', { type: 'button', class: 'secondary small', hidden: true }, 'Discard changes');
  const problems = h('div', { class: 'problems', id: 'model-problems', hidden: true });

  const formNote = h('p', { class: 'hint form-note', hidden: true }, 'The form is unavailable while the JSON has a syntax error: fix it on the right.');
  // A fieldset only to disable the whole form at once; the form's heading names it.
  const formBody = h('fieldset', { class: 'form-body' });
  const form = h(
    'form',
    { class: 'model-form', id: 'model-form', 'aria-labelledby': 'model-form-title' },
    h('h3', { id: 'model-form-title' }, 'Quick edit'),
    formNote,
    formBody,
  );
  form.noValidate = true;

  const textarea = h('textarea', {
    id: 'model-json',
    name: 'model',
    class: 'json',
    spellcheck: 'false',
    autocomplete: 'off',
    autocapitalize: 'off',
    'aria-describedby': 'model-json-help model-json-error',
  });
  textarea.rows = 28;
  textarea.wrap = 'off';
  const jsonError = h('div', { id: 'model-json-error', class: 'field-error' });
  const jsonPane = h(
    'div',
    { class: 'json-pane' },
    h('label', { for: 'model-json' }, 'The model as JSON'),
    h(
      'p',
      { id: 'model-json-help', class: 'hint' },
      'Everything the form shows and the rest: dimensions, rule conditions, profile rules, exclusions, stages. ',
      'Checked by the server as you type.',
    ),
    textarea,
    jsonError,
  );

  const checkStatus = h('p', { class: 'check-status', id: 'model-check', 'aria-live': 'polite', 'aria-atomic': 'true' });
  const checking = h('p', { class: 'checking hint', hidden: true }, 'Checking your changes…');
  const preview = h('div', { class: 'preview', id: 'model-preview' });
  const saveButton = h('button', { type: 'button', id: 'model-save', 'aria-describedby': 'model-save-hint' }, 'Save');
  const saveHint = h('p', { class: 'hint', id: 'model-save-hint' });
  const saveError = h('p', { class: 'alert', role: 'alert' });

  const versionsBody = h('div', { class: 'versions', id: 'model-versions' });

  const content = h(
    'div',
    { class: 'model-body', hidden: true },
    conflict,
    progressPanel,
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'model-edit-title' },
      h('div', { class: 'panel-head' }, h('h2', { id: 'model-edit-title' }, 'Edit'), dirtyBadge, discard),
      problems,
      h('div', { class: 'editor-grid' }, form, jsonPane),
    ),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'model-preview-title' },
      h('h2', { id: 'model-preview-title' }, 'Preview and save'),
      checkStatus,
      checking,
      preview,
      h('div', { class: 'actions save-actions' }, saveButton, saveHint),
      saveError,
    ),
    h('section', { class: 'panel', 'aria-labelledby': 'model-versions-title' }, h('h2', { id: 'model-versions-title' }, 'Versions'), versionsBody),
  );

  setChildren(opts.root, h('div', { class: 'view-head' }, title, summary, loadStatus), loadError, content);

  // ---- State ----
  let api: Api | null = null;
  /** Bumped by every (re)load and by clear(): answers for an older epoch are dropped. */
  let epoch = 0;
  let loading: AbortController | null = null;
  let base: Base | null = null;
  /** A candidate handed over by the quality view, waiting for the editor to show it. */
  let proposed: string | null = null;
  let parsed: JsonText = parseJsonText('');
  let check: Check | null = null;
  let checkTimer: ReturnType<typeof setTimeout> | undefined;
  let checkInFlight: AbortController | null = null;
  /** A save or a restore is under way: the editor is read-only until it answers. */
  let busy = false;
  let conflictOpen = false;
  let versions: ModelVersions | null = null;
  /** Bumped by every request for the versions: see `loadVersions`. */
  let versionsSeq = 0;
  let watched: Recompute | null = null;
  /** What started the watched recalculation ("Saved as version 4."), said before its status. */
  let watchNote: string | null = null;
  let poller: Poller | null = null;
  let formSignature = '';
  const fields = new Map<string, Field>();

  const unauthorized = (err: unknown): boolean => {
    if (!isUnauthorized(err)) return false;
    opts.onUnauthorized(err);
    return true;
  };

  const isDirty = (): boolean => base !== null && (!parsed.ok || JSON.stringify(parsed.value) !== base.canonical);

  // ---- The form: bands and behaviour rule points ----

  function signatureOf(doc: unknown): string {
    if (!isRecord(doc)) return 'none';
    const bands = Array.isArray(doc['bands']) ? doc['bands'].map(isRecord) : null;
    const rules = Array.isArray(doc['behaviourRules'])
      ? doc['behaviourRules'].map((r) => (isRecord(r) ? [r['id'], r['label'], r['dimension'], r['maxTimes'], r['maxPoints']] : null))
      : null;
    return JSON.stringify([bands, rules]);
  }

  function fieldValue(doc: unknown, path: JsonPath): unknown {
    let v: unknown = doc;
    for (const p of path) {
      if (typeof p === 'number' ? !Array.isArray(v) : !isRecord(v)) return undefined;
      v = (v as Record<string | number, unknown>)[p];
    }
    return v;
  }

  function showValue(f: Field, v: unknown): void {
    const text = f.kind === 'number' ? (typeof v === 'number' ? String(v) : '') : v === undefined ? '' : displayValue(v);
    if (f.input.value !== text) f.input.value = text;
  }

  function field(
    doc: Record<string, unknown>,
    path: (string | number)[],
    kind: Field['kind'],
    label: Child,
    hint: Child = null,
  ): HTMLElement {
    const id = `model-f-${path.join('-')}`;
    const error = h('p', { class: 'field-error', id: `${id}-error` });
    const input = h('input', {
      id,
      type: kind === 'number' ? 'number' : 'text',
      autocomplete: 'off',
      spellcheck: 'false',
      autocapitalize: 'off',
      'data-path': path.join('.'),
      'aria-describedby': hint ? `${id}-hint ${id}-error` : `${id}-error`,
    });
    if (kind === 'number') input.step = 'any';
    const f: Field = { path, kind, input, error };
    fields.set(path.join('.'), f);
    showValue(f, fieldValue(doc, path));
    return h(
      'div',
      { class: `field field-${kind}` },
      h('label', { for: id }, label),
      hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null,
      input,
      error,
    );
  }

  function buildForm(doc: unknown): void {
    fields.clear();
    formSignature = signatureOf(doc);
    const parts: Child[] = [];
    if (!isRecord(doc)) {
      parts.push(h('p', { class: 'hint' }, 'The model is an object in { }: the form has nothing to show.'));
      setChildren(formBody, parts);
      return;
    }
    const bands = Array.isArray(doc['bands']) ? doc['bands'] : [];
    const bandRows = bands.map((b, i) =>
      isRecord(b)
        ? h(
            'fieldset',
            { class: 'band-row' },
            h('legend', null, `Band ${i + 1}`, i === 0 ? ' (lowest)' : i === bands.length - 1 ? ' (highest)' : null),
            field(doc, ['bands', i, 'name'], 'text', 'Name'),
            field(doc, ['bands', i, 'min'], 'number', 'Lowest score'),
            field(doc, ['bands', i, 'branch'], 'text', 'Nurturing branch'),
          )
        : null,
    );
    parts.push(
      h(
        'fieldset',
        { class: 'group' },
        h('legend', null, 'Bands'),
        h('p', { class: 'hint' }, 'In increasing order of lowest score; the first band also holds every score below its own.'),
        bandRows.length ? bandRows : h('p', { class: 'hint' }, 'No bands: add them in the JSON.'),
      ),
    );
    const rules = Array.isArray(doc['behaviourRules']) ? doc['behaviourRules'] : [];
    const ruleRows = rules.map((r, i) => {
      if (!isRecord(r)) return null;
      const limits: string[] = [];
      if (typeof r['maxTimes'] === 'number') limits.push(`${count(r['maxTimes'])} ${plural(r['maxTimes'], 'time')} at most`);
      if (typeof r['maxPoints'] === 'number') limits.push(`${formatScore(r['maxPoints'])} points at most`);
      return field(
        doc,
        ['behaviourRules', i, 'points'],
        'number',
        displayValue(r['label']) || displayValue(r['id']) || `Rule ${i + 1}`,
        [dimensionLabel(r['dimension']), ' · ', h('code', null, displayValue(r['id'])), limits.length ? ` · ${limits.join(', ')}` : null],
      );
    });
    parts.push(
      h(
        'fieldset',
        { class: 'group rules' },
        h('legend', null, 'Behaviour rules: points per matching event'),
        ruleRows.length ? ruleRows : h('p', { class: 'hint' }, 'No behaviour rules.'),
      ),
    );
    setChildren(formBody, parts);
  }

  /** The form follows the text: rebuilt when its shape changed, otherwise only values refreshed. */
  function syncForm(): void {
    formNote.hidden = parsed.ok;
    formBody.disabled = !parsed.ok || busy;
    if (!parsed.ok) return;
    if (signatureOf(parsed.value) !== formSignature) {
      buildForm(parsed.value);
      showFieldIssues();
      return;
    }
    for (const f of fields.values()) {
      if (document.activeElement !== f.input) showValue(f, fieldValue(parsed.value, f.path));
    }
  }

  form.addEventListener('submit', (e) => e.preventDefault());
  form.addEventListener('input', (e) => {
    const input = e.target;
    if (!(input instanceof HTMLInputElement) || !parsed.ok) return;
    const f = fields.get(input.dataset['path'] ?? '');
    if (!f) return;
    const target = fieldValue(parsed.value, f.path.slice(0, -1));
    const key = f.path[f.path.length - 1]!;
    if (typeof key === 'number' ? !Array.isArray(target) : !isRecord(target)) return;
    // An empty or half-typed number becomes null, which the server names next to this field.
    const value = f.kind === 'number' ? (Number.isFinite(input.valueAsNumber) ? input.valueAsNumber : null) : input.value;
    (target as Record<string | number, unknown>)[key] = value;
    textarea.value = pretty(parsed.value);
    parsed = parseJsonText(textarea.value);
    // Show where the edit landed in the JSON, without taking the focus from the form.
    if (parsed.ok) scrollTextTo(parsed.locate(f.path).start);
    changed();
  });

  // ---- The JSON text ----

  textarea.addEventListener('input', () => {
    parsed = parseJsonText(textarea.value);
    syncForm();
    changed();
  });

  function scrollTextTo(at: TextPosition): void {
    const lineHeight = parseFloat(getComputedStyle(textarea).lineHeight) || 20;
    textarea.scrollTop = Math.max(0, (at.line - 3) * lineHeight);
  }

  /** Puts the caret on a spot of the text and brings it into view. */
  function revealInText(start: TextPosition, end = start.offset): void {
    textarea.focus({ preventScroll: true });
    textarea.setSelectionRange(start.offset, Math.max(end, start.offset));
    scrollTextTo(start);
    textarea.scrollIntoView({ block: 'nearest' });
  }

  discard.addEventListener('click', () => {
    if (!base) return;
    setDocument(base.text);
    focusQuietly(textarea);
  });

  /** Replaces the text; `known` is what checking it would say, when the caller already knows. */
  function setDocument(text: string, known: Check | null = null): void {
    textarea.value = text;
    parsed = parseJsonText(text);
    if (known) check = known;
    syncForm();
    changed();
  }

  function setBusy(b: boolean): void {
    busy = b;
    textarea.readOnly = b;
    formBody.disabled = !parsed.ok || b;
    renderSave();
  }

  // ---- Checking: syntax here, schema and preview on the server ----

  function changed(): void {
    const dirty = isDirty();
    dirtyBadge.hidden = !dirty;
    discard.hidden = !dirty;
    setText(saveError, '');
    if (checkTimer !== undefined) clearTimeout(checkTimer);
    checkTimer = undefined;
    // What is on screen may no longer describe the text: say so at once, check after a pause.
    renderCheck();
    if (check?.text !== textarea.value) checkTimer = setTimeout(() => void runCheck(), CHECK_DELAY_MS);
  }

  async function runCheck(): Promise<void> {
    if (checkTimer !== undefined) clearTimeout(checkTimer);
    checkTimer = undefined;
    if (!api || !base || checkInFlight) return; // an answer in flight triggers the next check itself
    const text = textarea.value;
    if (check?.text === text) return;
    const p = parseJsonText(text);
    if (!p.ok) {
      setCheck({ text, kind: 'syntax', message: p.message, at: p.at });
      return;
    }
    if (JSON.stringify(p.value) === base.canonical) {
      setCheck({ text, kind: 'unchanged' });
      return;
    }
    const mine = new AbortController();
    checkInFlight = mine;
    const myEpoch = epoch;
    renderCheck();
    try {
      const result = await api.previewModel(p.value, SAMPLE, mine.signal);
      if (myEpoch === epoch) setCheck({ text, kind: 'valid', preview: result });
    } catch (err) {
      if (isAbort(err) || myEpoch !== epoch || unauthorized(err)) return;
      if (err instanceof ApiError && err.status === 400 && err.issues.length > 0) {
        const issues = err.issues.map((i) => ({ path: modelPath(i), message: displayValue(i.message) || 'not valid' }));
        setCheck({ text, kind: 'invalid', issues });
      } else {
        setCheck({ text, kind: 'error', message: errorMessage(err) });
      }
    } finally {
      if (checkInFlight === mine) checkInFlight = null;
      // Typing went on while the server worked: check the newest text now.
      if (myEpoch === epoch && !mine.signal.aborted && check?.text !== textarea.value) void runCheck();
    }
  }

  function setCheck(c: Check): void {
    check = c;
    renderCheck();
  }

  /** The check on screen, if it describes the text in the editor. */
  const currentCheck = (): Check | null => (check && check.text === textarea.value ? check : null);

  function showFieldIssues(): void {
    const c = check;
    const byField = new Map<Field, string[]>();
    if (c?.kind === 'invalid') {
      for (const issue of c.issues) {
        const f = fields.get(issue.path.join('.'));
        if (f) byField.set(f, [...(byField.get(f) ?? []), issue.message]);
      }
    }
    for (const f of fields.values()) {
      const messages = byField.get(f);
      setText(f.error, messages ? messages.join(' · ') : '');
      if (messages) f.input.setAttribute('aria-invalid', 'true');
      else f.input.removeAttribute('aria-invalid');
    }
  }

  function problemItem(path: (string | number)[], message: string): HTMLLIElement {
    const f = fields.get(path.join('.'));
    const go = h('button', { type: 'button', class: 'link' }, h('code', null, pathText(path)), ': ', message);
    go.addEventListener('click', () => {
      // The form field when the problem has one, otherwise the spot in the JSON.
      const target = fields.get(path.join('.'));
      if (target && !formBody.disabled) {
        target.input.scrollIntoView({ block: 'center' });
        focusQuietly(target.input);
      } else if (parsed.ok) {
        const r = parsed.locate(path);
        revealInText(r.start, r.end);
      }
    });
    return h('li', { 'data-path': path.join('.'), 'data-field': f ? 'form' : 'json' }, go);
  }

  function renderProblems(c: Check | null): void {
    if (c?.kind === 'invalid') {
      setChildren(
        problems,
        h('h3', { id: 'model-problems-title', tabindex: -1 }, `${c.issues.length} ${plural(c.issues.length, 'problem')} to fix before saving`),
        h('ul', { 'aria-labelledby': 'model-problems-title' }, c.issues.map((i) => problemItem(i.path, i.message))),
      );
      problems.hidden = false;
    } else {
      setChildren(problems);
      problems.hidden = true;
    }
  }

  function renderJsonError(c: Check | null): void {
    if (c?.kind === 'syntax') {
      const go = h('button', { type: 'button', class: 'link' }, `Go to line ${c.at.line}`);
      go.addEventListener('click', () => revealInText(c.at, c.at.offset + 1));
      setChildren(jsonError, h('p', null, `Line ${c.at.line}, column ${c.at.column}: ${c.message}. `, go));
      textarea.setAttribute('aria-invalid', 'true');
    } else {
      setChildren(jsonError);
      if (c?.kind === 'invalid') textarea.setAttribute('aria-invalid', 'true');
      else textarea.removeAttribute('aria-invalid');
    }
  }

  /**
   * While the newest text is being checked, the last outcome stays on screen, marked as out of
   * date (errors do not blink away at every key), and Save waits.
   */
  function renderCheck(): void {
    const pending = currentCheck() === null;
    const c = check;
    checking.hidden = !pending || c === null;
    preview.setAttribute('aria-busy', String(pending));
    preview.classList.toggle('stale', pending);
    problems.classList.toggle('stale', pending);
    showFieldIssues();
    renderProblems(c);
    renderJsonError(c);
    if (c) {
      switch (c.kind) {
        case 'unchanged':
          setText(checkStatus, 'No changes yet: edit the model to see what they would change.');
          setChildren(preview);
          break;
        case 'syntax':
          setText(checkStatus, `The JSON has a syntax error on line ${c.at.line}, column ${c.at.column}.`);
          setChildren(preview);
          break;
        case 'invalid':
          setText(checkStatus, `The model has ${c.issues.length} ${plural(c.issues.length, 'problem')}: it cannot be saved as it is.`);
          setChildren(preview);
          break;
        case 'error': {
          setText(checkStatus, `Could not check the model: ${c.message}`);
          const retry = h('button', { type: 'button', class: 'secondary' }, 'Check again');
          retry.addEventListener('click', () => {
            check = null;
            void runCheck();
          });
          setChildren(preview, retry);
          break;
        }
        case 'valid':
          setText(
            checkStatus,
            `The model is valid. ${count(c.preview.moved)} of ${count(c.preview.leads)} ${plural(c.preview.leads, 'lead')} would change band.`,
          );
          setChildren(preview, renderPreview(c.preview));
          break;
      }
    }
    renderSave();
  }

  // ---- The preview ----

  function renderPreview(p: ModelPreview): Child[] {
    const before = isRecord(p.before) ? p.before : {};
    const after = isRecord(p.after) ? p.after : {};
    // The candidate's bands in its order, then bands it drops, then the excluded leads.
    const names: string[] = [];
    for (const n of [...Object.keys(after), ...Object.keys(before)]) if (n !== EXCLUDED && !names.includes(n)) names.push(n);
    names.push(EXCLUDED);
    const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
    const rows = names.map((n) => {
      const b = num(before[n]);
      const a = num(after[n]);
      const diff = a - b;
      return h(
        'tr',
        { 'data-band': n },
        h('th', { scope: 'row' }, segmentLabel(n), n in after || n === EXCLUDED ? null : h('span', { class: 'muted' }, ' (removed)')),
        h('td', { class: 'num', 'data-col': 'before' }, count(b)),
        h('td', { class: 'num', 'data-col': 'after' }, count(a)),
        h('td', { class: `num ${diff > 0 ? 'up' : diff < 0 ? 'down' : ''}`, 'data-col': 'diff' }, diff === 0 ? '0' : formatPoints(diff)),
      );
    });
    const moves = Array.isArray(p.moves) ? p.moves.filter(isRecord) : [];
    const sample = Array.isArray(p.sample) ? p.sample.filter(isRecord) : [];
    return [
      h(
        'div',
        { class: 'table-wrap', role: 'region', 'aria-labelledby': 'model-counts-title', tabindex: 0 },
        h(
          'table',
          { class: 'data counts' },
          h('caption', { id: 'model-counts-title' }, 'Leads per band, now and with your changes'),
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              h('th', { scope: 'col' }, 'Band'),
              h('th', { scope: 'col', class: 'num' }, 'Now'),
              h('th', { scope: 'col', class: 'num' }, 'After'),
              h('th', { scope: 'col', class: 'num' }, 'Difference'),
            ),
          ),
          h('tbody', null, rows),
        ),
      ),
      h('h3', { id: 'model-flows-title' }, 'Moves'),
      moves.length
        ? h(
            'ul',
            { class: 'flows', 'aria-labelledby': 'model-flows-title' },
            moves.map((m) =>
              h(
                'li',
                { 'data-from': displayValue(m['from']), 'data-to': displayValue(m['to']) },
                h('span', { class: 'flow-band' }, segmentLabel(m['from'])),
                ' → ',
                h('span', { class: 'flow-band' }, segmentLabel(m['to'])),
                ': ',
                h('strong', null, count(m['count'])),
              ),
            ),
          )
        : h('p', { class: 'empty' }, 'No lead would change band.'),
      sample.length
        ? [
            h('h3', { id: 'model-sample-title' }, 'Who moves'),
            h(
              'p',
              { class: 'hint' },
              sample.length < num(p.moved) ? `The first ${count(sample.length)} of ${count(p.moved)}.` : `All ${count(sample.length)}.`,
            ),
            h(
              'div',
              { class: 'table-wrap', role: 'region', 'aria-labelledby': 'model-sample-title', tabindex: 0 },
              h(
                'table',
                { class: 'data sample' },
                h(
                  'thead',
                  null,
                  h(
                    'tr',
                    null,
                    h('th', { scope: 'col' }, 'Lead'),
                    h('th', { scope: 'col' }, 'From'),
                    h('th', { scope: 'col' }, 'To'),
                    h('th', { scope: 'col', class: 'num' }, 'Score now'),
                    h('th', { scope: 'col', class: 'num' }, 'After'),
                  ),
                ),
                h(
                  'tbody',
                  null,
                  sample.map((s) => {
                    const id = displayValue(s['id']);
                    const email = displayValue(s['email']) || id;
                    return h(
                      'tr',
                      { 'data-lead-id': id },
                      h('td', null, id ? h('a', { href: leadHref(id) }, email) : email),
                      h('td', null, segmentLabel(s['from'])),
                      h('td', null, segmentLabel(s['to'])),
                      h('td', { class: 'num' }, formatScore(s['scoreBefore'])),
                      h('td', { class: 'num' }, formatScore(s['scoreAfter'])),
                    );
                  }),
                ),
              ),
            ),
          ]
        : null,
    ];
  }

  // ---- Saving ----

  function renderSave(): void {
    const c = currentCheck();
    const next = base ? base.version + 1 : null;
    setText(saveButton, busy ? 'Saving…' : next === null ? 'Save' : `Save as version ${next}`);
    let why: string;
    if (busy) why = 'Saving…';
    else if (!base) why = '';
    else if (conflictOpen) why = 'Choose what to do about the newer version above.';
    else if (!c) why = 'Waiting for the preview of your changes.';
    else if (c.kind === 'unchanged') why = 'Nothing to save yet.';
    else if (c.kind === 'syntax') why = 'Fix the JSON syntax error to save.';
    else if (c.kind === 'invalid') why = `Fix the ${plural(c.issues.length, 'problem')} above to save.`;
    else if (c.kind === 'error') why = 'The model could not be checked; try again.';
    else why = 'Saving recalculates every lead with this model; older versions stay restorable.';
    saveButton.disabled = busy || conflictOpen || c?.kind !== 'valid';
    setText(saveHint, why);
  }

  saveButton.addEventListener('click', () => void save(false));

  async function save(force: boolean): Promise<void> {
    const c = currentCheck();
    if (!api || !base || busy || c?.kind !== 'valid' || !parsed.ok) return;
    const myEpoch = epoch;
    const model = parsed.value;
    let refocus = false;
    setText(saveError, '');
    setBusy(true);
    try {
      if (!force) {
        // The API saves over whatever is newest: look first, so that nobody's version is put aside unseen.
        const now = await api.model();
        if (myEpoch !== epoch) return;
        if (now.version !== base.version) {
          showConflict('newer', now.version);
          return;
        }
      }
      // If-Match as well: a version saved between that look and this save is refused (412), not replaced.
      const saved = await api.saveModel(model, force ? undefined : base.version);
      if (myEpoch !== epoch) return;
      applySaved(saved, `Saved as version ${count(saved.version)}.`);
    } catch (err) {
      if (myEpoch !== epoch || unauthorized(err)) return;
      if (err instanceof ApiError && (err.status === 409 || err.status === 412)) {
        showConflict('race', null);
      } else if (err instanceof ApiError && err.status === 400 && err.issues.length > 0) {
        setCheck({ text: textarea.value, kind: 'invalid', issues: err.issues.map((i) => ({ path: modelPath(i), message: displayValue(i.message) })) });
      } else {
        setText(saveError, `Not saved: ${errorMessage(err)}`);
        refocus = true;
        // A request cut off on its way back may have been saved all the same: the list will say.
        void loadVersions();
      }
    } finally {
      if (myEpoch === epoch) {
        setBusy(false);
        if (refocus) focusQuietly(saveButton);
      }
    }
  }

  /** After a save or a restore: the saved model becomes the base, and its recalculation is followed. */
  function applySaved(saved: SavedModel, message: string): void {
    const text = pretty(saved.model);
    base = { version: saved.version, text, canonical: JSON.stringify(saved.model) };
    conflictOpen = false;
    conflict.hidden = true;
    setBusy(false);
    setDocument(text, { text, kind: 'unchanged' });
    renderSummary();
    watch(saved.recompute, message);
    void loadVersions();
    progressPanel.scrollIntoView({ block: 'nearest' });
    focusQuietly(progressTitle);
  }

  function showConflict(kind: 'newer' | 'race', newest: number | null): void {
    if (!base) return;
    conflictOpen = true;
    const reload = h('button', { type: 'button' }, newest === null ? 'Load the newest model' : `Load version ${newest}`);
    reload.addEventListener('click', () => void load(true));
    const keep = h('button', { type: 'button', class: 'secondary' }, 'Keep editing');
    keep.addEventListener('click', () => {
      conflictOpen = false;
      conflict.hidden = true;
      renderSave();
      focusQuietly(saveButton.disabled ? textarea : saveButton);
    });
    const anyway = h('button', { type: 'button', class: 'secondary' }, 'Save mine anyway');
    anyway.addEventListener('click', () => {
      conflictOpen = false;
      conflict.hidden = true;
      void save(true);
    });
    setChildren(
      conflict,
      h('h2', { id: 'model-conflict-title', tabindex: -1 }, 'Someone else saved the model meanwhile'),
      kind === 'newer'
        ? h(
            'p',
            null,
            `You started from version ${base.version}; version ${newest} has been saved since. `,
            `Saving yours now would put version ${newest}'s changes aside (it stays in the list of versions, restorable). `,
            'Loading it discards your edits.',
          )
        : h('p', null, 'Another version was saved at the same moment as yours, and yours was not saved. Loading the newest model discards your edits.'),
      h('div', { class: 'actions' }, reload, kind === 'newer' ? anyway : null, keep),
    );
    conflict.hidden = false;
    renderSave();
    conflict.scrollIntoView({ block: 'nearest' });
    focusQuietly(conflict.querySelector<HTMLElement>('h2'));
  }

  // ---- The recalculation ----

  function stopPolling(): void {
    poller?.stop();
    poller = null;
  }

  function watch(job: Recompute, note: string | null): void {
    stopPolling();
    watched = job;
    watchNote = note;
    progressPanel.hidden = false;
    renderProgress(job);
    if (job.status === 'running') startPolling();
  }

  function startPolling(): void {
    if (poller || !watched || watched.status !== 'running') return;
    const myEpoch = epoch;
    poller = createPoller(async (signal) => {
      if (!api || !watched) return;
      try {
        const job = await api.recompute(watched.id, signal);
        if (myEpoch !== epoch || signal.aborted) return;
        const was = watched.status;
        watched = job;
        renderProgress(job, was);
        progressNote.hidden = true;
        if (job.status !== 'running') stopPolling();
      } catch (err) {
        if (isAbort(err) || myEpoch !== epoch || unauthorized(err)) return;
        setText(progressNote, `Could not refresh the progress (${errorMessage(err)}); trying again.`);
        progressNote.hidden = false;
      }
    }, PROGRESS_MS);
    poller.start();
  }

  function renderProgress(job: Recompute, previousStatus?: string): void {
    const total = typeof job.total === 'number' && job.total > 0 ? job.total : 0;
    const processed = typeof job.processed === 'number' ? Math.min(job.processed, total) : 0;
    const status = displayValue(job.status);
    progressPanel.dataset['status'] = status;
    progressBar.max = Math.max(total, 1);
    progressBar.value = status === 'done' ? Math.max(total, 1) : processed;
    const version = count(job.modelVersion);
    setText(
      progressText,
      `${count(processed)} of ${count(total)} ${plural(total, 'lead')} recalculated with version ${version}` +
        (typeof job.changed === 'number' ? `; ${count(job.changed)} changed band, stage or exclusion.` : '.'),
    );
    let said: string;
    if (status === 'running') said = `Recalculating every lead with version ${version}…`;
    else if (status === 'done') said = `Done: every lead is scored with version ${version}.`;
    else if (status === 'superseded') said = `Stopped: a newer version replaced version ${version} and is recalculated instead.`;
    else said = `Recalculation ${status}.`;
    // The live region speaks on a change of status only, not at every tick of the bar.
    if (previousStatus !== status) setText(progressLive, watchNote ? `${watchNote} ${said}` : said);
    if (status === 'superseded' && base && job.modelVersion === base.version) {
      const reload = h('button', { type: 'button', class: 'secondary' }, 'Load the newest model');
      reload.addEventListener('click', () => void load(true));
      setChildren(progressActions, reload);
      progressActions.hidden = false;
    } else {
      setChildren(progressActions);
      progressActions.hidden = true;
    }
  }

  // ---- Versions ----

  async function loadVersions(attempt = 1): Promise<void> {
    if (!api) return;
    const myEpoch = epoch;
    const mySeq = ++versionsSeq;
    try {
      const v = await api.modelVersions();
      // Answers may come back out of order (a list asked for before a save, answered after the
      // list asked for after it): only the last one asked for is shown.
      if (myEpoch !== epoch || mySeq !== versionsSeq) return;
      versions = v;
      renderVersions();
      renderSummary();
    } catch (err) {
      if (myEpoch !== epoch || mySeq !== versionsSeq || unauthorized(err)) return;
      // The list is asked for once, not polled: a lost answer is asked for again, a few times.
      if (err instanceof ApiError && err.status === 0 && attempt < 3) {
        setTimeout(() => void loadVersions(attempt + 1), 1000);
        return;
      }
      const retry = h('button', { type: 'button', class: 'secondary' }, 'Try again');
      retry.addEventListener('click', () => void loadVersions());
      setChildren(versionsBody, h('p', { class: 'alert', role: 'alert' }, `Could not load the versions: ${errorMessage(err)}`), retry);
    }
  }

  function renderVersions(): void {
    if (!versions) return;
    const current = versions.current;
    // A list rather than a table: each version wraps onto as many lines as a phone needs.
    const items = versions.versions.filter(isRecord).map((v) => {
      const version = typeof v.version === 'number' ? v.version : NaN;
      const action = h('div', { class: 'version-action' });
      const restoreButton = h('button', { type: 'button', class: 'secondary small', 'data-restore': version }, `Restore version ${count(version)}`);
      restoreButton.addEventListener('click', () => confirmRestore(version, action, restoreButton));
      if (version !== current && Number.isSafeInteger(version)) action.append(restoreButton);
      return h(
        'li',
        { class: version === current ? 'version current' : 'version', 'data-version': version },
        h('span', { class: 'version-name' }, `Version ${count(version)}`, version === current ? [' ', h('span', { class: 'badge' }, 'current')] : null),
        h(
          'span',
          { class: 'version-when' },
          v.builtIn || version === 0 ? 'Built-in default' : ['Saved ', timeEl(v.createdAt)],
          v.createdBy ? [' by ', h('code', null, displayValue(v.createdBy))] : null,
        ),
        action,
      );
    });
    setChildren(
      versionsBody,
      h('p', { class: 'hint' }, 'Newest first. Restoring saves that version again as the newest one and recalculates every lead; history only grows.'),
      h('ol', { class: 'version-list', 'aria-labelledby': 'model-versions-title' }, items),
    );
  }

  function confirmRestore(version: number, cell: HTMLElement, restoreButton: HTMLButtonElement): void {
    const yes = h('button', { type: 'button', class: 'small' }, `Yes, restore version ${count(version)}`);
    const no = h('button', { type: 'button', class: 'secondary small' }, 'Cancel');
    const message = h('p', { class: 'alert', role: 'alert', hidden: true });
    const dirty = isDirty();
    setChildren(
      cell,
      h(
        'div',
        { class: 'confirm', role: 'group', 'aria-label': `Restore version ${count(version)}` },
        h(
          'p',
          null,
          `Make version ${count(version)} the current model again? Every lead is recalculated.`,
          dirty ? ' Your unsaved edits will be discarded.' : null,
        ),
        h('div', { class: 'actions' }, yes, no),
        message,
      ),
    );
    focusQuietly(yes);
    no.addEventListener('click', () => {
      setChildren(cell, restoreButton);
      focusQuietly(restoreButton);
    });
    yes.addEventListener('click', () => {
      if (!api || busy) return;
      const myEpoch = epoch;
      yes.disabled = no.disabled = true;
      setText(yes, 'Restoring…');
      setBusy(true);
      api.restoreModelVersion(version).then(
        (saved) => {
          if (myEpoch !== epoch) return;
          applySaved(saved, `Version ${count(version)} restored as version ${count(saved.version)}.`);
        },
        (err: unknown) => {
          if (myEpoch !== epoch || unauthorized(err)) return;
          setBusy(false);
          yes.disabled = no.disabled = false;
          setText(yes, `Yes, restore version ${count(version)}`);
          setText(message, `Not restored: ${errorMessage(err)}`);
          message.hidden = false;
          focusQuietly(yes);
        },
      );
    });
  }

  function renderSummary(): void {
    if (!base) {
      setText(summary, '');
      return;
    }
    const info = versions?.versions.find((v) => isRecord(v) && v.version === base!.version);
    if (base.version === 0) {
      setText(summary, 'Version 0: the built-in default.');
    } else if (info && typeof info.createdAt === 'number') {
      setChildren(summary, `Version ${count(base.version)}, saved `, timeEl(info.createdAt), info.createdBy ? [' by ', h('code', null, displayValue(info.createdBy))] : null, '.');
    } else {
      setText(summary, `Version ${count(base.version)}.`);
    }
  }

  // ---- Loading ----

  function reset(): void {
    epoch++;
    loading?.abort();
    loading = null;
    checkInFlight?.abort();
    checkInFlight = null;
    if (checkTimer !== undefined) clearTimeout(checkTimer);
    checkTimer = undefined;
    stopPolling();
  }

  async function load(focus: boolean): Promise<void> {
    reset();
    const myEpoch = epoch;
    const mine = new AbortController();
    loading = mine;
    const a = api;
    if (!a) return;
    opts.root.setAttribute('aria-busy', 'true');
    loadError.hidden = true;
    setText(loadStatus, base ? 'Loading the newest model…' : 'Loading the model…');
    if (focus) focusQuietly(title);
    // A list asked for by `loadVersions` before this load must not replace the one it brings.
    versionsSeq++;
    try {
      const [current, list, latest] = await Promise.all([a.model(mine.signal), a.modelVersions(mine.signal), a.latestRecompute(mine.signal)]);
      if (myEpoch !== epoch) return;
      const text = pretty(current.model);
      base = { version: current.version, text, canonical: JSON.stringify(current.model) };
      versions = list;
      conflictOpen = false;
      conflict.hidden = true;
      busy = false;
      textarea.readOnly = false;
      setText(saveError, '');
      formSignature = '';
      setDocument(text, { text, kind: 'unchanged' });
      if (proposed !== null) {
        setDocument(proposed);
        proposed = null;
      }
      renderVersions();
      renderSummary();
      if (latest && latest.status === 'running') watch(latest, null);
      else if (watched && latest && watched.id === latest.id) watch(latest, null);
      else {
        watched = null;
        progressPanel.hidden = true;
      }
      content.hidden = false;
      setText(loadStatus, '');
    } catch (err) {
      if (isAbort(err) || myEpoch !== epoch || unauthorized(err)) return;
      setText(loadStatus, '');
      const retry = h('button', { type: 'button', class: 'secondary' }, 'Try again');
      retry.addEventListener('click', () => void load(true));
      setChildren(loadError, h('p', null, `Could not load the model: ${errorMessage(err)}`), retry);
      loadError.hidden = false;
      content.hidden = base === null;
    } finally {
      if (loading === mine) {
        loading = null;
        opts.root.removeAttribute('aria-busy');
        if (focus && myEpoch === epoch) focusQuietly(title);
      }
    }
  }

  // A draft typed all day is not lost to a closed tab by accident.
  window.addEventListener('beforeunload', (e) => {
    if (isDirty()) e.preventDefault();
  });

  return {
    show(a, focus) {
      api = a;
      if (base && proposed !== null) {
        setDocument(proposed);
        proposed = null;
      }
      if (!base || !isDirty()) {
        void load(focus);
        return;
      }
      // Back to an unsaved draft: keep it, refresh around it, and pick up where checking stopped.
      if (focus) focusQuietly(title);
      void loadVersions();
      startPolling();
      if (currentCheck() === null) void runCheck();
    },
    stop() {
      loading?.abort();
      checkInFlight?.abort();
      checkInFlight = null;
      if (checkTimer !== undefined) clearTimeout(checkTimer);
      checkTimer = undefined;
      stopPolling();
      opts.root.removeAttribute('aria-busy');
    },
    propose(model) {
      proposed = pretty(model);
    },
    clear() {
      reset();
      api = null;
      proposed = null;
      base = null;
      versions = null;
      watched = null;
      watchNote = null;
      check = null;
      busy = false;
      textarea.readOnly = false;
      conflictOpen = false;
      fields.clear();
      formSignature = '';
      textarea.value = '';
      parsed = parseJsonText('');
      setChildren(formBody);
      setChildren(preview);
      setChildren(versionsBody);
      setChildren(problems);
      setChildren(jsonError);
      setText(checkStatus, '');
      setText(summary, '');
      setText(progressLive, '');
      conflict.hidden = true;
      progressPanel.hidden = true;
      loadError.hidden = true;
      content.hidden = true;
      opts.root.removeAttribute('aria-busy');
    },
  };
}
