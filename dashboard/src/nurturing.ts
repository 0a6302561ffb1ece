/**
 * @module The nurturing view (`#nurturing`): per band a button that runs its nurturing branch for
 * its current members, after a confirmation naming how many, and the webhooks with their delivery
 * logs (`webhooks.ts`).
 *
 * It reads the bands' counters and the subscriptions only, never the leads themselves, so it costs
 * the same with 100,000 leads as with 10; both are polled every 15 seconds while the tab is visible.
 *
 * A trigger carries an Idempotency-Key made when the user asks for it: a double click, or "Try
 * again" after a network error, sends the same key, and the API runs the branch once. The key is
 * dropped once the API has answered (the next click is a new run), or kept while the outcome is
 * unknown (the connection failed), so that asking again cannot run the branch a second time.
 */
import { type Api, ApiError, type Band, type TriggerResult, isAbort, isUnauthorized } from './api';
import { type ConfirmHandle, confirmDialog } from './dialog';
import { h, setChildren, setText } from './dom';
import { formatCount, formatRange, plural, timeEl } from './format';
import { createPoller } from './live';
import { bandHref } from './router';
import { toneFor } from './tones';
import { createWebhooksSection } from './webhooks';

export const NURTURING_POLL_MS = 15_000;

export interface NurturingOptions {
  /** Where the view's content goes (`#nurturing`). */
  container: HTMLElement;
  /** The `aria-live` line that says when the data was last updated. */
  status: HTMLElement;
  onUnauthorized(err: ApiError): void;
}

export interface NurturingView {
  start(api: Api): void;
  stop(): void;
  clear(): void;
}

interface BranchCard {
  band: Band;
  root: HTMLLIElement;
  facts: HTMLElement;
  run: HTMLButtonElement;
  result: HTMLElement;
  sig: string;
}

/** An Idempotency-Key: a UUID, from `getRandomValues` where `randomUUID` is missing (plain http). */
export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The API answered: another click with the same key would only replay this answer. */
const settled = (err: unknown) => err instanceof ApiError && err.status >= 400 && err.status < 500;

const leads = (n: number) => `${formatCount(n)} ${plural(n, 'lead')}`;

export function createNurturingView(opts: NurturingOptions): NurturingView {
  let api: Api | null = null;
  let poller: ReturnType<typeof createPoller> | null = null;
  let lastUpdated: number | null = null;
  let layout = '';
  let dialog: ConfirmHandle | null = null;
  /** Per band, the key of a trigger whose outcome is not known yet. */
  const keys = new Map<string, { key: string; sent: boolean }>();
  const cards = new Map<string, BranchCard>();

  const branchList = h('ul', { class: 'branch-cards', 'aria-labelledby': 'branches-title' });
  const branchesAlert = h('p', { class: 'alert', role: 'alert' });
  const webhooks = createWebhooksSection({
    host: opts.container,
    onUnauthorized: (err) => opts.onUnauthorized(err),
    refresh: () => poller?.start(),
  });
  const heading = h('h2', { id: 'branches-title' }, 'Run a nurturing branch');
  const branches = h(
    'section',
    { class: 'panel', 'aria-labelledby': 'branches-title' },
    heading,
    h(
      'p',
      { class: 'hint' },
      'Sends every current member of the band to its branch: one ',
      h('code', null, 'branch.triggered'),
      ' change each, in the changes feed and to the webhooks that subscribe to them.',
    ),
    branchesAlert,
    branchList,
  );

  const lastUpdatedParts = (): (Node | string)[] => (lastUpdated === null ? [] : ['Last updated ', timeEl(lastUpdated, 'clock'), '.']);

  function report(card: BranchCard, r: TriggerResult): void {
    const t = r.trigger;
    setChildren(
      card.result,
      r.replayed
        ? ['Already run: this request had run ', h('code', null, t.branch), ` for ${leads(t.count)} in ${t.band} at `, timeEl(t.createdAt, 'clock'), '. Nothing was sent again.']
        : ['Ran ', h('code', null, t.branch), ` for ${leads(t.count)} in ${t.band} at `, timeEl(t.createdAt, 'clock'), '.'],
      h('span', { class: 'muted trigger-id' }, ` Trigger ${t.id}.`),
    );
    card.result.setAttribute('data-replayed', String(r.replayed));
    card.result.setAttribute('data-count', String(t.count));
  }

  async function askRun(card: BranchCard): Promise<void> {
    const client = api;
    if (!client || dialog || card.run.getAttribute('aria-busy') === 'true') return;
    card.run.setAttribute('aria-busy', 'true');
    // The count the confirmation names is read now, not when the page was drawn.
    let band = card.band;
    try {
      const fresh = await client.bands();
      renderBands(fresh.bands);
      band = fresh.bands.find((b) => b.name === band.name) ?? band;
    } catch (err) {
      if (isUnauthorized(err)) {
        card.run.removeAttribute('aria-busy');
        opts.onUnauthorized(err);
        return;
      }
      // Ask with the count last shown; the result says how many it ran for.
    } finally {
      card.run.removeAttribute('aria-busy');
    }
    if (api !== client || dialog || !card.root.isConnected) return;
    const name = band.name;
    let pending = keys.get(name);
    if (!pending) {
      pending = { key: newIdempotencyKey(), sent: false };
      keys.set(name, pending);
    }
    const mine = pending;
    dialog = confirmDialog({
      host: opts.container,
      title: `Run the ${band.branch} branch?`,
      message: ['Run ', h('code', null, band.branch), ` for ${leads(band.count)} in ${name}?`],
      detail: h(
        'p',
        null,
        'Each of them gets a ',
        h('code', null, 'branch.triggered'),
        ' change, sent to the changes feed and to the webhooks that subscribe to it. Running it again later sends them all again.',
      ),
      confirmLabel: `Run for ${leads(band.count)}`,
      busyLabel: 'Running…',
      onUnauthorized: (err) => opts.onUnauthorized(err),
      fallbackFocus: () => cards.get(name)?.run,
      async action() {
        mine.sent = true;
        try {
          const result = await client.triggerBand(name, mine.key);
          if (keys.get(name) === mine) keys.delete(name);
          const current = cards.get(name);
          if (current && api === client) report(current, result);
          poller?.start();
        } catch (err) {
          if (settled(err) && keys.get(name) === mine) keys.delete(name);
          throw err;
        }
      },
      onClose() {
        dialog = null;
        // Never sent: the next click is a new request. Sent without an answer: keep the key.
        if (!mine.sent && keys.get(name) === mine) keys.delete(name);
      },
    });
  }

  function createCard(band: Band, index: number): BranchCard {
    const titleId = `branch-${index}-title`;
    const run = h(
      'button',
      { type: 'button', 'data-action': 'run', 'aria-describedby': `${titleId}-result` },
      'Run branch',
      h('span', { class: 'vh' }, ` for ${band.name}`),
    );
    const facts = h('div');
    const result = h('p', { id: `${titleId}-result`, class: 'trigger-result', role: 'status', 'aria-live': 'polite' });
    const root = h(
      'li',
      { class: 'card branch-card', 'data-branch-band': band.name, 'aria-labelledby': titleId },
      h('h3', { id: titleId, class: 'card-title' }, band.name),
      facts,
      h('div', { class: 'branch-actions' }, run, h('a', { href: bandHref(band.name) }, 'See members', h('span', { class: 'vh' }, ` of ${band.name}`))),
      result,
    );
    const card: BranchCard = { band, root, facts, run, result, sig: '' };
    run.addEventListener('click', () => void askRun(card));
    return card;
  }

  function renderBands(bands: readonly Band[]): void {
    const names = JSON.stringify(bands.map((b) => b.name));
    if (names !== layout) {
      layout = names;
      cards.clear();
      const roots = bands.map((b, i) => {
        const card = createCard(b, i);
        // Tinted as the band's card on the segments view.
        card.root.setAttribute('data-tone', toneFor(i, bands.length));
        cards.set(b.name, card);
        return card.root;
      });
      setChildren(branchList, roots);
      if (bands.length === 0) setChildren(branchList, h('li', { class: 'empty' }, 'The model has no bands.'));
    }
    for (const b of bands) {
      const card = cards.get(b.name);
      if (!card) continue;
      card.band = b;
      const sig = JSON.stringify(b);
      if (sig === card.sig) continue;
      card.sig = sig;
      setChildren(
        card.facts,
        h(
          'dl',
          { class: 'facts' },
          h('div', null, h('dt', null, 'Branch'), h('dd', null, h('code', null, b.branch))),
          h('div', null, h('dt', null, 'Leads'), h('dd', { 'data-count': '' }, formatCount(b.count))),
          h('div', null, h('dt', null, 'Score'), h('dd', null, formatRange(b.min, b.max))),
        ),
        b.description ? h('p', { class: 'card-desc' }, b.description) : null,
      );
    }
  }

  let built = false;
  function build(): void {
    if (built) return;
    built = true;
    setChildren(opts.container, branches, webhooks.root);
    setChildren(branchList, h('li', { class: 'loading' }, 'Loading bands…'));
  }

  return {
    start(client) {
      poller?.stop();
      build();
      api = client;
      webhooks.setApi(client);
      poller = createPoller(
        async (signal) => {
          try {
            const [bands, hooks] = await Promise.all([client.bands(signal), client.webhooks(signal)]);
            if (signal.aborted) return;
            renderBands(bands.bands);
            webhooks.render(hooks, bands.bands);
            setText(branchesAlert, '');
            lastUpdated = Date.now();
            setChildren(opts.status, lastUpdatedParts());
          } catch (err) {
            if (isAbort(err) || signal.aborted) return;
            if (isUnauthorized(err)) {
              opts.onUnauthorized(err);
              return;
            }
            const message = err instanceof Error ? err.message : String(err);
            setChildren(opts.status, `Update failed: ${message}. Retrying every ${NURTURING_POLL_MS / 1000} seconds. `, lastUpdatedParts());
            if (lastUpdated === null) setText(branchesAlert, `Could not load the bands and webhooks: ${message}`);
          }
        },
        NURTURING_POLL_MS,
        () => setChildren(opts.status, 'Live updates paused while this tab is hidden. ', lastUpdatedParts()),
      );
      poller.start();
    },
    stop() {
      poller?.stop();
      poller = null;
      dialog?.close();
      dialog = null;
      webhooks.stop();
    },
    clear() {
      this.stop();
      api = null;
      webhooks.clear();
      keys.clear();
      cards.clear();
      layout = '';
      lastUpdated = null;
      built = false;
      setChildren(opts.container);
      setChildren(opts.status);
    },
  };
}
