/**
 * @module The webhooks part of the nurturing view: the subscriptions with their health, a form to
 * add one (its `whsec_` secret shown once), deleting one, and per subscription its delivery log,
 * filtered by status, paged with the API cursor, with Retry on the deliveries not yet delivered.
 *
 * URLs, band names, errors answered by receivers and payloads are all someone else's text: they go
 * through `h` as text. A URL is shown, never linked.
 */
import {
  type Api,
  type ApiError,
  type ApiIssue,
  type Band,
  CHANGE_TYPES,
  type ChangeType,
  DELIVERY_STATUSES,
  type Delivery,
  type DeliveryAttempt,
  type DeliveryStatus,
  type Webhook,
  isAbort,
  isUnauthorized,
} from './api';
import { type ConfirmHandle, confirmDialog } from './dialog';
import { type Child, focusQuietly, h, setChildren, setText } from './dom';
import { formatCount, plural, timeEl } from './format';
import { createPager } from './pager';
import { leadHref } from './router';

export const DELIVERIES_PER_PAGE = 20;
/** After a retry, the row is read again after each of these delays until it is no longer pending. */
const RETRY_CHECKS_MS = [400, 800, 1500, 2500, 4000];

const TYPE_LABELS: Readonly<Record<ChangeType, string>> = {
  'lead.band_changed': 'Band changed',
  'lead.stage_changed': 'Stage changed',
  'lead.excluded': 'Excluded',
  'lead.included': 'Included again',
  'branch.triggered': 'Branch triggered',
};
const DEFAULT_TYPES: readonly ChangeType[] = ['lead.band_changed', 'branch.triggered'];

const STATUS_LABELS: Readonly<Record<DeliveryStatus, string>> = { pending: 'Pending', delivered: 'Delivered', failed: 'Failed' };
const isDeliveryStatus = (s: unknown): s is DeliveryStatus => (DELIVERY_STATUSES as readonly unknown[]).includes(s);
const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export interface WebhooksSectionOptions {
  /** Where dialogs are put while open. */
  host: HTMLElement;
  onUnauthorized(err: ApiError): void;
  /** Reloads the list now (after a create or a delete). */
  refresh(): void;
}

export interface WebhooksSection {
  root: HTMLElement;
  setApi(api: Api | null): void;
  /** The latest list and bands; only what changed is touched, open logs stay open. */
  render(webhooks: readonly Webhook[], bands: readonly Band[]): void;
  /** Leaving the view: loads aborted, dialogs closed. */
  stop(): void;
  /** Signing out: everything removed, the secret too. */
  clear(): void;
}

let serial = 0;
const nextId = (prefix: string) => `${prefix}-${++serial}`;

/** "Active", "Failing since …", "Disabled …: reason", as a badge whose class comes from our own list. */
function statusBadge(w: Webhook): Child {
  if (w.status === 'disabled') {
    return [
      h('span', { class: 'badge badge-disabled' }, 'Disabled'),
      ' ',
      timeEl(w.disabledAt),
      w.disabledReason ? h('span', { class: 'webhook-reason' }, ': ', w.disabledReason) : null,
    ];
  }
  if (w.status === 'failing') return [h('span', { class: 'badge badge-failing' }, 'Failing'), ' since ', timeEl(w.failingSince)];
  return h('span', { class: 'badge badge-active' }, 'Active');
}

const typeLabel = (t: string) => (t in TYPE_LABELS ? TYPE_LABELS[t as ChangeType] : t);

function webhookHead(w: Webhook, titleId: string): Child[] {
  return [
    h('h3', { id: titleId, class: 'webhook-url', tabindex: -1 }, h('span', { class: 'vh' }, 'Webhook to '), w.url),
    h('p', { class: 'webhook-status', 'data-status': w.status }, statusBadge(w)),
    h(
      'dl',
      { class: 'facts' },
      h('div', null, h('dt', null, 'Changes'), h('dd', null, w.types.map((t, i) => [i ? ', ' : null, h('code', { title: typeLabel(t) }, t)]))),
      h('div', null, h('dt', null, 'Band'), h('dd', null, w.band ?? 'every band')),
      h('div', null, h('dt', null, 'Created'), h('dd', null, timeEl(w.createdAt))),
    ),
  ];
}

/** The lead's e-mail as the payload carries it, when it does; the id otherwise. */
function leadLabel(d: Delivery): string {
  const p = d.payload;
  const data = typeof p === 'object' && p !== null ? (p as { data?: unknown }).data : undefined;
  const lead = typeof data === 'object' && data !== null ? (data as { lead?: unknown }).lead : undefined;
  const email = typeof lead === 'object' && lead !== null ? (lead as { email?: unknown }).email : undefined;
  return typeof email === 'string' && email !== '' ? email : (d.leadId ?? '');
}

/**
 * What an answer's error says besides its status, which is shown beside it: the delivery stores
 * "HTTP 503: <the receiver's text>", or "HTTP 503" alone.
 */
function errorBesides(status: number | null, error: string | null): string | null {
  if (!error || status === null) return error;
  const said = `HTTP ${status}`;
  if (error === said) return null;
  return error.startsWith(`${said}: `) ? error.slice(said.length + 2) : error;
}

function answerOf(status: number | null, error: string | null): Child {
  const more = errorBesides(status, error);
  return [status !== null ? h('span', { class: 'http-status' }, `HTTP ${status}`) : null, more ? h('span', { class: 'delivery-error' }, more) : null];
}

function attemptItem(a: DeliveryAttempt): HTMLLIElement {
  const more = errorBesides(a.status, a.error);
  return h(
    'li',
    null,
    timeEl(a.at, 'date'),
    ' ',
    a.status !== null ? `HTTP ${a.status}` : 'no answer',
    typeof a.durationMs === 'number' ? h('span', { class: 'muted' }, ` in ${formatCount(a.durationMs)} ms`) : null,
    more ? h('span', { class: 'delivery-error' }, more) : null,
  );
}

interface DeliveryLog {
  root: HTMLElement;
  load(focus?: boolean): void;
  setWebhook(w: Webhook): void;
  stop(): void;
}

function createDeliveryLog(getApi: () => Api | null, initial: Webhook, opts: WebhooksSectionOptions): DeliveryLog {
  let webhook = initial;
  let controller: AbortController | null = null;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let status: DeliveryStatus | '' = '';
  const retrying = new Set<string>();
  /** The rows on screen, to redraw them without a request. */
  let shown: Delivery[] = [];

  const titleId = nextId('log-title');
  const captionId = nextId('log-caption');
  const filterId = nextId('log-filter');
  const heading = h('h4', { id: titleId, tabindex: -1 }, 'Delivery log');
  const counts = h('p', { class: 'muted log-counts' });
  const filter = h(
    'select',
    { id: filterId, name: 'status' },
    [['', 'All'], ...DELIVERY_STATUSES.map((s) => [s, STATUS_LABELS[s]] as const)].map(([value, label]) => {
      const option = h('option', null, label);
      option.value = value;
      return option;
    }),
  );
  const refresh = h('button', { type: 'button', class: 'secondary', 'data-action': 'refresh' }, 'Refresh');
  const announce = h('p', { class: 'vh', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' });
  const alert = h('p', { class: 'alert', role: 'alert' });
  const disabledNote = h('p', { class: 'hint', hidden: true }, 'This webhook is disabled: deliveries cannot be retried. Delete it and create it again to resume.');
  const tbody = h('tbody');
  const caption = h('caption', { id: captionId, class: 'vh' });
  const table = h(
    'table',
    { class: 'data deliveries' },
    caption,
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        ['Status', 'Lead', 'Change', 'Attempts', 'Last answer', 'Next attempt', 'Created'].map((t) => h('th', { scope: 'col' }, t)),
      ),
    ),
    tbody,
  );
  const wrap = h('div', { class: 'table-wrap', role: 'region', 'aria-labelledby': captionId, tabindex: 0, hidden: true }, table);
  const empty = h('p', { class: 'empty', hidden: true });
  const pager = createPager('Delivery log pages', () => load());
  const root = h(
    'section',
    { class: 'delivery-log', 'aria-labelledby': titleId },
    h('div', { class: 'log-head' }, heading, counts),
    h(
      'div',
      { class: 'log-controls' },
      h('label', { for: filterId }, 'Status'),
      filter,
      refresh,
    ),
    disabledNote,
    announce,
    alert,
    wrap,
    empty,
    pager.root,
  );

  filter.addEventListener('change', () => {
    const v = filter.value;
    status = isDeliveryStatus(v) ? v : '';
    pager.reset();
    load();
  });
  refresh.addEventListener('click', () => load());

  function row(d: Delivery): HTMLTableRowElement {
    const s = isDeliveryStatus(d.status) ? d.status : null;
    const canRetry = (s === 'failed' || s === 'pending') && webhook.status !== 'disabled';
    const busy = retrying.has(d.id);
    const lead = leadLabel(d);
    let retry: HTMLButtonElement | null = null;
    if (canRetry) {
      retry = h(
        'button',
        { type: 'button', class: 'secondary small', 'data-action': 'retry', 'data-focus': 'retry', 'aria-disabled': busy ? 'true' : null },
        busy ? 'Retrying…' : 'Retry',
        h('span', { class: 'vh' }, ` delivery of ${d.type}${lead ? ` for ${lead}` : ''}`),
      );
      retry.addEventListener('click', () => void retryDelivery(d));
    }
    return h(
      'tr',
      { 'data-delivery-id': d.id, 'data-status': s ?? 'unknown' },
      // Retry sits with the status, so that it is in view on a phone without scrolling the table.
      h('td', null, h('div', { class: 'delivery-status' }, h('span', { class: `badge badge-${s ?? 'unknown'}` }, s ? STATUS_LABELS[s] : String(d.status)), retry)),
      h('td', null, d.leadId ? h('a', { href: leadHref(d.leadId), 'data-focus': 'lead' }, lead) : h('span', { class: 'muted' }, 'erased')),
      h('td', null, h('code', null, d.type), h('p', { class: 'muted small-text' }, d.changeId)),
      h(
        'td',
        null,
        d.log.length
          ? h(
              'details',
              { class: 'attempts' },
              // `attempts` restarts at 0 on a retry by hand; the log keeps the attempts before it.
              h(
                'summary',
                { 'data-focus': 'attempts' },
                `${formatCount(d.attempts)} ${plural(d.attempts, 'attempt')}`,
                d.log.length > d.attempts ? ' since a retry' : '',
              ),
              h('p', { class: 'muted small-text' }, 'Latest first', d.log.length >= 10 ? ' (the last 10)' : '', ':'),
              h('ol', null, d.log.map(attemptItem)),
            )
          : `${formatCount(d.attempts)}`,
      ),
      h('td', { class: 'last-answer' }, d.lastStatus !== null || d.lastError ? answerOf(d.lastStatus, d.lastError) : h('span', { class: 'muted' }, '–')),
      h(
        'td',
        null,
        s === 'pending' ? timeEl(d.nextAttemptAt) : s === 'delivered' ? ['delivered ', timeEl(d.deliveredAt)] : h('span', { class: 'muted' }, 'none'),
      ),
      h('td', null, timeEl(d.createdAt)),
    );
  }

  /** Rebuilds the rows, putting focus back on the same control of the same delivery when it is still there. */
  function renderRows(deliveries: readonly Delivery[]): Delivery[] {
    const active = document.activeElement;
    let focusRow: string | null = null;
    let focusKey: string | null = null;
    if (active instanceof HTMLElement && tbody.contains(active)) {
      focusRow = active.closest('tr')?.getAttribute('data-delivery-id') ?? null;
      focusKey = active.getAttribute('data-focus');
    }
    const open = new Set(
      Array.from(tbody.querySelectorAll('details[open]')).map((d) => d.closest('tr')?.getAttribute('data-delivery-id')),
    );
    setChildren(tbody, deliveries.map(row));
    for (const tr of Array.from(tbody.rows)) {
      if (open.has(tr.getAttribute('data-delivery-id'))) tr.querySelector('details')?.setAttribute('open', '');
    }
    if (focusRow !== null) {
      const tr = Array.from(tbody.rows).find((r) => r.getAttribute('data-delivery-id') === focusRow);
      const same = focusKey ? Array.from(tr?.querySelectorAll<HTMLElement>('[data-focus]') ?? []).find((el) => el.getAttribute('data-focus') === focusKey) : null;
      focusQuietly(same ?? tr?.querySelector<HTMLElement>('[data-focus]') ?? wrap);
    }
    wrap.hidden = deliveries.length === 0;
    empty.hidden = deliveries.length > 0;
    return [...deliveries];
  }

  /** Loads the current page; answers it (or null when it failed or was superseded). */
  async function load(focus = false): Promise<Delivery[] | null> {
    const api = getApi();
    if (!api) return null;
    controller?.abort();
    const mine = new AbortController();
    controller = mine;
    pager.setBusy(true);
    root.setAttribute('aria-busy', 'true');
    setText(caption, `Deliveries to ${webhook.url}${status ? `, ${STATUS_LABELS[status].toLowerCase()} only` : ''}, newest first`);
    try {
      const [page, detail] = await Promise.all([
        api.deliveries(webhook.id, { status: status || undefined, limit: DELIVERIES_PER_PAGE, cursor: pager.cursor() }, mine.signal),
        api.webhook(webhook.id, mine.signal),
      ]);
      if (mine.signal.aborted) return null;
      setText(alert, '');
      webhook = detail;
      disabledNote.hidden = detail.status !== 'disabled';
      const c = detail.deliveries;
      setText(
        counts,
        DELIVERY_STATUSES.map((s) => `${formatCount(c?.[s] ?? 0)} ${STATUS_LABELS[s].toLowerCase()}`).join(' · '),
      );
      shown = renderRows(page.deliveries);
      setText(empty, status ? `No ${STATUS_LABELS[status].toLowerCase()} delivery.` : pager.page() > 1 ? 'No more deliveries.' : 'Nothing sent to this webhook yet.');
      const first = (pager.page() - 1) * DELIVERIES_PER_PAGE + 1;
      pager.loaded(
        page.nextCursor,
        shown.length ? `Page ${pager.page()}: deliveries ${formatCount(first)}–${formatCount(first + shown.length - 1)}` : `Page ${pager.page()}`,
      );
      if (focus) focusQuietly(heading);
      return shown;
    } catch (err) {
      if (isAbort(err) || mine.signal.aborted) return null;
      if (isUnauthorized(err)) {
        opts.onUnauthorized(err);
        return null;
      }
      setText(alert, `Could not load the delivery log: ${errorText(err)}`);
      return null;
    } finally {
      if (controller === mine) {
        controller = null;
        pager.setBusy(false);
        root.removeAttribute('aria-busy');
      }
    }
  }

  async function retryDelivery(d: Delivery): Promise<void> {
    const api = getApi();
    if (!api || retrying.has(d.id)) return;
    retrying.add(d.id);
    // Rows read `retrying`: this one now says "Retrying…", and focus stays on it.
    renderRows(shown);
    const who = leadLabel(d);
    const name = `The ${d.type} delivery${who ? ` for ${who}` : ''}`;
    try {
      await api.retryDelivery(webhook.id, d.id);
      setText(announce, `${name} is being sent again.`);
    } catch (err) {
      retrying.delete(d.id);
      if (isUnauthorized(err)) {
        opts.onUnauthorized(err);
        return;
      }
      setText(alert, `Could not retry: ${errorText(err)}`);
      await load();
      return;
    }
    // The dispatcher sends it right after the retry request: read the row again until it has been
    // tried (delivered, or answered with a failure and pending its next attempt).
    let latest: Delivery | undefined;
    for (const delay of RETRY_CHECKS_MS) {
      await new Promise<void>((resolve) => {
        retryTimer = setTimeout(resolve, delay);
      });
      retryTimer = undefined;
      if (!retrying.has(d.id)) return; // stopped: the view was left
      const rows = await load();
      latest = rows?.find((r) => r.id === d.id);
      if (!latest || latest.status !== 'pending' || latest.attempts > 0) break;
    }
    retrying.delete(d.id);
    renderRows(shown);
    if (!latest) {
      setText(announce, `${name} was sent again; it is no longer in this list.`);
    } else if (latest.status === 'delivered') {
      setText(announce, `${name} was delivered.`);
    } else if (latest.attempts === 0) {
      setText(announce, `${name} is waiting to be sent.`);
    } else {
      const last = latest.lastStatus !== null ? `HTTP ${latest.lastStatus}` : (latest.lastError ?? 'no answer');
      setText(announce, `${name} failed again (${last}).`);
    }
  }

  return {
    root,
    load: (focus) => void load(focus),
    setWebhook(w) {
      const was = webhook.status;
      webhook = w;
      if (was !== w.status) void load();
    },
    stop() {
      controller?.abort();
      controller = null;
      if (retryTimer !== undefined) clearTimeout(retryTimer);
      retryTimer = undefined;
      retrying.clear();
      pager.setBusy(false);
      root.removeAttribute('aria-busy');
    },
  };
}

interface Item {
  webhook: Webhook;
  root: HTMLLIElement;
  head: HTMLElement;
  titleId: string;
  sig: string;
  toggle: HTMLButtonElement;
  logBox: HTMLElement;
  log: DeliveryLog | null;
}

export function createWebhooksSection(opts: WebhooksSectionOptions): WebhooksSection {
  let api: Api | null = null;
  let listSig = '';
  let bandsSig = '';
  let dialog: ConfirmHandle | null = null;
  const items = new Map<string, Item>();
  const getApi = () => api;

  const heading = h('h2', { id: 'webhooks-title', tabindex: -1 }, 'Webhooks');
  const list = h('ul', { class: 'webhooks', 'aria-labelledby': 'webhooks-title' });
  const none = h('p', { class: 'empty', hidden: true }, 'No webhook yet: add one below, and every change you choose is POSTed to it.');
  const listStatus = h('p', { class: 'vh', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' });

  // ---- The form ----
  const urlInput = h('input', {
    id: 'webhook-url',
    name: 'url',
    type: 'url',
    inputmode: 'url',
    autocomplete: 'off',
    spellcheck: 'false',
    autocapitalize: 'off',
    required: true,
    placeholder: 'https://example.com/hooks/leadscore',
    'aria-describedby': 'webhook-url-hint',
  });
  urlInput.maxLength = 2000;
  const typeBoxes = CHANGE_TYPES.map((t) => {
    const id = `webhook-type-${t.replace('.', '-')}`;
    const box = h('input', { id, type: 'checkbox', name: 'types' });
    box.value = t;
    box.checked = DEFAULT_TYPES.includes(t);
    return { type: t, box, el: h('div', { class: 'check' }, box, h('label', { for: id }, TYPE_LABELS[t], ' ', h('code', null, t))) };
  });
  const typesSet = h(
    'fieldset',
    { class: 'types', 'aria-describedby': 'webhook-types-hint' },
    h('legend', null, 'Changes to send'),
    typeBoxes.map((t) => t.el),
    h('p', { id: 'webhook-types-hint', class: 'hint' }, 'Choose at least one.'),
  );
  const bandSelect = h('select', { id: 'webhook-band', name: 'band', 'aria-describedby': 'webhook-band-hint' });
  const formError = h('p', { id: 'webhook-error', class: 'alert', role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Create webhook');
  const form = h(
    'form',
    { class: 'webhook-form', 'aria-labelledby': 'webhook-new-title' },
    h('h3', { id: 'webhook-new-title' }, 'New webhook'),
    h(
      'div',
      { class: 'webhook-field' },
      h('label', { for: 'webhook-url' }, 'Receiver URL'),
      urlInput,
      h('p', { id: 'webhook-url-hint', class: 'hint' }, 'Each change is POSTed there as JSON, signed as Standard Webhooks specifies.'),
    ),
    typesSet,
    h(
      'div',
      { class: 'webhook-field' },
      h('label', { for: 'webhook-band' }, 'Band'),
      bandSelect,
      h('p', { id: 'webhook-band-hint', class: 'hint' }, 'One band: only changes into or out of it, its branch triggers and its members’ stage changes.'),
    ),
    formError,
    submit,
  );
  form.noValidate = true;

  // ---- The secret, shown once ----
  const secretInput = h('input', { id: 'webhook-secret', type: 'text', spellcheck: 'false', autocomplete: 'off', 'aria-describedby': 'webhook-secret-warning' });
  secretInput.readOnly = true;
  const secretLabel = h('label', { for: 'webhook-secret' });
  const copy = h('button', { type: 'button', 'data-action': 'copy' }, 'Copy');
  const copyStatus = h('p', { class: 'hint', role: 'status', 'aria-live': 'polite' });
  const done = h('button', { type: 'button', class: 'secondary', 'data-action': 'done' }, 'I have copied it');
  const secretTitle = h('h3', { id: 'webhook-secret-title', tabindex: -1 }, 'Copy the signing secret now');
  const secretPanel = h(
    'div',
    { class: 'secret-panel', role: 'region', 'aria-labelledby': 'webhook-secret-title', hidden: true },
    secretTitle,
    h(
      'p',
      { id: 'webhook-secret-warning', class: 'warning' },
      'This is the only time it is shown: the API never answers it again. Put it in your receiver, which checks each delivery’s ',
      h('code', null, 'webhook-signature'),
      ' with it. Lost it? Delete the webhook and create it again.',
    ),
    secretLabel,
    h('div', { class: 'secret-row' }, secretInput, copy),
    copyStatus,
    done,
  );

  const hideSecret = () => {
    createdId = null;
    secretInput.value = '';
    setText(copyStatus, '');
    secretPanel.hidden = true;
  };

  copy.addEventListener('click', () => {
    const secret = secretInput.value;
    if (!secret) return;
    const selectIt = () => {
      secretInput.focus();
      secretInput.select();
    };
    const fallback = () => {
      selectIt();
      let copied = false;
      try {
        copied = document.execCommand('copy');
      } catch {
        copied = false;
      }
      setText(copyStatus, copied ? 'Copied to the clipboard.' : 'Selected: press Ctrl+C (⌘C on a Mac) to copy it.');
    };
    if (navigator.clipboard?.writeText) {
      navigator.clipboard.writeText(secret).then(() => setText(copyStatus, 'Copied to the clipboard.'), fallback);
    } else {
      fallback();
    }
  });
  secretInput.addEventListener('focus', () => secretInput.select());
  /** The webhook whose secret is shown: focused when the panel is dismissed. */
  let createdId: string | null = null;
  done.addEventListener('click', () => {
    const item = createdId === null ? undefined : items.get(createdId);
    hideSecret();
    (item?.root.querySelector<HTMLElement>('h3') ?? heading).focus();
  });

  const root = h(
    'section',
    { class: 'panel', 'aria-labelledby': 'webhooks-title' },
    heading,
    h('p', { class: 'hint' }, 'Your e-mail or automation tool hears of each change as it happens. Failed deliveries are tried again for about 27 hours.'),
    listStatus,
    secretPanel,
    none,
    list,
    h('div', { class: 'card webhook-new' }, form),
  );

  // ---- Validation and creation ----
  function showFormErrors(messages: readonly string[], fields: ReadonlySet<string>): void {
    // None: nothing at all, so that the alert is :empty and takes no room (an empty list showed it).
    setChildren(formError, messages.length === 0 ? null : messages.length === 1 ? messages[0] : h('ul', null, messages.map((m) => h('li', null, m))));
    for (const [name, el] of [
      ['url', urlInput],
      ['band', bandSelect],
    ] as const) {
      if (fields.has(name)) el.setAttribute('aria-invalid', 'true');
      else el.removeAttribute('aria-invalid');
    }
    if (fields.has('types')) typesSet.setAttribute('aria-invalid', 'true');
    else typesSet.removeAttribute('aria-invalid');
    if (fields.has('url')) focusQuietly(urlInput);
    else if (fields.has('types')) focusQuietly(typeBoxes[0]?.box);
    else if (fields.has('band')) focusQuietly(bandSelect);
  }

  function localProblems(url: string, types: readonly ChangeType[]): { messages: string[]; fields: Set<string> } {
    const messages: string[] = [];
    const fields = new Set<string>();
    let parsed: URL | null = null;
    try {
      parsed = new URL(url);
    } catch {
      parsed = null;
    }
    if (url === '') {
      messages.push('Enter the URL of your receiver.');
      fields.add('url');
    } else if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
      messages.push('The URL must start with https:// (or http://).');
      fields.add('url');
    }
    if (types.length === 0) {
      messages.push('Choose at least one kind of change to send.');
      fields.add('types');
    }
    return { messages, fields };
  }

  const issueText = (i: ApiIssue) => {
    const where = (i.path ?? []).filter((p) => typeof p === 'string').join('.');
    return `${where ? `${where}: ` : ''}${i.message ?? 'not valid'}`;
  };

  let creating = false;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (creating || !api) return;
    const client = api;
    const url = urlInput.value.trim();
    const types = typeBoxes.filter((t) => t.box.checked).map((t) => t.type);
    const band = bandSelect.value;
    const local = localProblems(url, types);
    if (local.messages.length) {
      showFormErrors(local.messages, local.fields);
      return;
    }
    showFormErrors([], new Set());
    creating = true;
    form.setAttribute('aria-busy', 'true');
    setText(submit, 'Creating…');
    client
      .createWebhook({ url, types, ...(band ? { band } : {}) })
      .then(
        (created) => {
          if (api !== client) return;
          urlInput.value = '';
          for (const t of typeBoxes) t.box.checked = DEFAULT_TYPES.includes(t.type);
          bandSelect.value = '';
          setText(secretLabel, `Secret of the webhook to ${created.url}`);
          secretInput.value = created.secret;
          setText(copyStatus, '');
          secretPanel.hidden = false;
          createdId = created.id;
          // Scrolled to as well: the panel is above the form the user was at.
          secretTitle.focus();
          opts.refresh();
        },
        (err: unknown) => {
          if (api !== client) return;
          if (isUnauthorized(err)) {
            opts.onUnauthorized(err);
            return;
          }
          const issues = (err as ApiError).issues ?? [];
          const fields = new Set(issues.map((i) => i.path?.[0]).filter((p): p is string => typeof p === 'string'));
          showFormErrors(issues.length ? issues.map(issueText) : [`Could not create the webhook: ${errorText(err)}`], fields);
          if (fields.size === 0) focusQuietly(submit);
        },
      )
      .finally(() => {
        creating = false;
        form.removeAttribute('aria-busy');
        setText(submit, 'Create webhook');
      });
  });

  // ---- The list ----
  function askDelete(item: Item): void {
    const client = api;
    if (!client) return;
    dialog?.close();
    const w = item.webhook;
    dialog = confirmDialog({
      host: opts.host,
      title: 'Delete this webhook?',
      message: ['Delete the webhook to ', h('span', { class: 'confirm-strong' }, w.url), '?'],
      detail: h('p', null, 'It stops receiving changes at once, and its delivery log is deleted with it. This cannot be undone.'),
      confirmLabel: 'Delete webhook',
      busyLabel: 'Deleting…',
      danger: true,
      onUnauthorized: opts.onUnauthorized,
      fallbackFocus: () => heading,
      async action() {
        await client.deleteWebhook(w.id).catch((err: unknown) => {
          // Already gone (deleted in another tab): what the user wanted.
          if ((err as ApiError).status !== 404) throw err;
        });
        removeItem(w.id);
        setText(listStatus, `The webhook to ${w.url} was deleted.`);
        opts.refresh();
      },
    });
  }

  function removeItem(id: string): void {
    const item = items.get(id);
    if (!item) return;
    item.log?.stop();
    const hadFocus = item.root.contains(document.activeElement);
    item.root.remove();
    items.delete(id);
    listSig = JSON.stringify([...items.keys()]);
    none.hidden = items.size > 0;
    if (hadFocus) focusQuietly(heading);
  }

  function createItem(w: Webhook): Item {
    const titleId = nextId('webhook-title');
    const logId = nextId('webhook-log');
    const head = h('div', { class: 'webhook-head' });
    // Each webhook has the same two buttons: its URL, as their description, tells them apart.
    const toggle = h(
      'button',
      { type: 'button', class: 'secondary', 'aria-expanded': 'false', 'aria-controls': logId, 'aria-describedby': titleId, 'data-action': 'log' },
      'Delivery log',
    );
    const del = h(
      'button',
      { type: 'button', class: 'secondary danger-text', 'aria-describedby': titleId, 'data-action': 'delete' },
      'Delete',
      h('span', { class: 'vh' }, ' this webhook'),
    );
    const logBox = h('div', { id: logId, class: 'webhook-log', hidden: true });
    const root = h(
      'li',
      { class: 'card webhook', 'data-webhook-id': w.id, 'aria-labelledby': titleId },
      head,
      h('div', { class: 'webhook-actions' }, toggle, del),
      logBox,
    );
    const item: Item = { webhook: w, root, head, titleId, sig: '', toggle, logBox, log: null };
    toggle.addEventListener('click', () => {
      const open = toggle.getAttribute('aria-expanded') !== 'true';
      toggle.setAttribute('aria-expanded', String(open));
      logBox.hidden = !open;
      if (open) {
        if (!item.log) {
          item.log = createDeliveryLog(getApi, item.webhook, opts);
          setChildren(logBox, item.log.root);
        }
        item.log.load();
      } else {
        item.log?.stop();
      }
    });
    del.addEventListener('click', () => askDelete(item));
    return item;
  }

  function renderItem(item: Item, w: Webhook): void {
    item.webhook = w;
    item.log?.setWebhook(w);
    const sig = JSON.stringify(w);
    if (sig === item.sig) return;
    item.sig = sig;
    setChildren(item.head, webhookHead(w, item.titleId));
  }

  function renderBands(bands: readonly Band[]): void {
    const names = bands.map((b) => b.name);
    const sig = JSON.stringify(names);
    if (sig === bandsSig) return;
    bandsSig = sig;
    const chosen = bandSelect.value;
    const option = (value: string, label: string) => {
      const o = h('option', null, label);
      o.value = value;
      return o;
    };
    setChildren(bandSelect, option('', 'Every band'), names.map((n) => option(n, n)));
    bandSelect.value = names.includes(chosen) ? chosen : '';
  }

  return {
    root,
    setApi(a) {
      api = a;
    },
    render(webhooks, bands) {
      renderBands(bands);
      const seen = new Set<string>();
      for (const w of webhooks) {
        seen.add(w.id);
        let item = items.get(w.id);
        if (!item) {
          item = createItem(w);
          items.set(w.id, item);
        }
        renderItem(item, w);
      }
      for (const id of [...items.keys()]) if (!seen.has(id)) removeItem(id);
      const sig = JSON.stringify(webhooks.map((w) => w.id));
      if (sig !== listSig) {
        // New or removed subscriptions: lay the list out again (moving a node loses its focus, so
        // only when the order changed).
        listSig = sig;
        const active = document.activeElement;
        setChildren(list, webhooks.map((w) => items.get(w.id)?.root));
        if (active instanceof HTMLElement && !active.isConnected) focusQuietly(heading);
        else if (active instanceof HTMLElement && document.activeElement !== active) focusQuietly(active);
      }
      none.hidden = webhooks.length > 0;
    },
    stop() {
      dialog?.close();
      dialog = null;
      for (const item of items.values()) item.log?.stop();
    },
    clear() {
      this.stop();
      api = null;
      hideSecret();
      for (const id of [...items.keys()]) removeItem(id);
      listSig = '';
      bandsSig = '';
      setChildren(list);
      setChildren(bandSelect);
      urlInput.value = '';
      showFormErrors([], new Set());
      setText(listStatus, '');
    },
  };
}
