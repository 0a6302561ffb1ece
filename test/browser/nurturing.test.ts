/**
 * The nurturing view and a band's members page in Chromium, against `wrangler dev` as `npm start`
 * runs it: a webhook created in the UI (its secret shown once), a branch run through the
 * confirmation, the delivery that failed retried from the log, and a band's members searched and
 * paged. The webhook receiver is a node:http server here, answering 503 to its first request.
 */
import { mkdirSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshStack, type Stack } from './fresh-stack';
import { launchChromium } from './chromium';

let stack: Stack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const shots = join(process.cwd(), 'test-results', 'screenshots');

/** What the receiver got: every request, answered 503 the first time and 204 after. */
interface Received {
  id: string;
  headers: IncomingHttpHeaders;
  body: string;
  answered: number;
}
const received: Received[] = [];
/** Uncaught errors in the page: none expected. */
const pageErrors: string[] = [];
let receiver: Server;
let receiverUrl: string;

const COLD = 60;
/** How far the page is wider than the window (the test project has no DOM types: page code is a string). */
const overflowJs = 'document.documentElement.scrollWidth - document.documentElement.clientWidth';
const XSS = '<img src=x onerror="window.__pwned=1">';

async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(`${stack.workerUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json', ...init.headers },
  });
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} never happened; last seen: ${JSON.stringify(last)}`);
}

beforeAll(async () => {
  mkdirSync(shots, { recursive: true });
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const answered = received.length === 0 ? 503 : 204;
      received.push({ id: String(req.headers['webhook-id'] ?? ''), headers: req.headers, body, answered });
      res.writeHead(answered);
      res.end(answered === 503 ? 'not now' : '');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hooks/leadscore`;

  stack = await freshStack('nurturing', {
    // Only the requests of this test run the dispatcher: the cron would retry the failed delivery
    // by itself 5 s after its failure.
    cronEveryMs: 3_600_000,
  });

  // 60 cold leads (an e-mail open: 5 points), half of them at Initech, and 2 warm ones (a demo
  // request: 60 points). One has markup for a first name: it must show as text.
  const now = Date.now();
  const events = [
    ...Array.from({ length: COLD }, (_, i) => {
      const initech = i % 2 === 0;
      const n = String(i).padStart(2, '0');
      return {
        id: `cold-${n}`,
        type: 'email_open',
        ts: now - i * 1000,
        email: `reader${n}@${initech ? 'initech' : 'hooli'}.io`,
        traits: { firstName: i === 1 ? XSS : `Reader ${n}`, company: initech ? 'Initech' : 'Hooli' },
      };
    }),
    ...['ana@globex.io', 'bo@globex.io'].map((email, i) => ({
      id: `warm-${i}`,
      type: 'form_submit',
      contentType: 'demo_request',
      ts: now,
      email,
      traits: { company: 'Globex' },
    })),
  ];
  await api('/v1/events', { method: 'POST', body: JSON.stringify({ events }) });
  await until(
    'the seeded leads counted in their bands',
    () => api<{ bands: { name: string; count: number }[] }>('/v1/bands'),
    (b) => b.bands.find((x) => x.name === 'cold')?.count === COLD && b.bands.find((x) => x.name === 'warm')?.count === 2,
  );

  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.workerUrl });
  page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(stack.dashboardUrl);
  await page.fill('#signin input[name=apiKey]', stack.apiKey);
  await page.click('#signin button[type=submit]');
  await page.locator('#segments-view').waitFor();
});

afterAll(async () => {
  expect(pageErrors).toEqual([]);
  await context?.close();
  await browser?.close();
  await stack?.stop();
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
});

describe('the nurturing view', () => {
  let secret = '';

  it('creates a webhook and shows its secret once', async () => {
    // Each band's card is edged in its colour on both views.
    const edges = (selector: string, attribute: string) =>
      page.evaluate<Record<string, string>>(
        `Object.fromEntries(Array.from(document.querySelectorAll('${selector}')).map((c) => [c.getAttribute('${attribute}'), getComputedStyle(c).borderTopColor]))`,
      );
    await page.locator('.card.band[data-band="warm"]').waitFor();
    const onSegments = await edges('.card.band', 'data-band');
    await page.click('#nav-nurturing');
    await page.waitForURL('**#nurturing');
    await page.locator('.branch-card[data-branch-band="warm"]').waitFor();
    const onNurturing = await edges('.branch-card', 'data-branch-band');
    expect(onNurturing).toEqual({ cold: onSegments.cold, warm: onSegments.warm, hot: onSegments.hot });
    expect(new Set(Object.values(onNurturing)).size).toBe(3);
    expect(await page.getAttribute('#nav-nurturing', 'aria-current')).toBe('page');

    await page.fill('#webhook-url', receiverUrl);
    await page.uncheck('#webhook-type-lead-band_changed');
    await page.check('#webhook-type-branch-triggered');
    await page.selectOption('#webhook-band', 'warm');
    await page.click('.webhook-form button[type=submit]');

    const panel = page.locator('.secret-panel');
    await panel.waitFor();
    secret = await page.inputValue('#webhook-secret');
    expect(secret).toMatch(/^whsec_/);
    // Focus goes to the panel, which says it is shown once.
    expect(await page.evaluate<string | undefined>('document.activeElement?.id')).toBe('webhook-secret-title');
    expect(await panel.textContent()).toContain('only time');
    // The form's alert, cleared, takes no room: an empty list inside it once left a red bar.
    expect(await page.locator('#webhook-error').evaluate((el: { childNodes: ArrayLike<unknown>; getBoundingClientRect(): { height: number } }) => [el.childNodes.length, el.getBoundingClientRect().height])).toEqual([0, 0]);
    await page.click('.secret-panel [data-action=copy]');
    await expect.poll(() => panel.locator('[role=status]').textContent()).toContain('Copied');
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(secret);
    await page.screenshot({ path: join(shots, 'nurturing-webhook-secret.png'), fullPage: true });

    const item = page.locator('.webhook', { hasText: receiverUrl });
    await item.waitFor();
    expect(await item.textContent()).toContain('branch.triggered');
    expect(await item.textContent()).toContain('warm');
    expect(await item.locator('.webhook-status').textContent()).toContain('Active');

    await page.click('.secret-panel [data-action=done]');
    await panel.waitFor({ state: 'hidden' });
    expect(await page.content()).not.toContain(secret);
    // Nowhere to be seen again, even after a reload.
    await page.reload();
    await item.waitFor();
    expect(await page.content()).not.toContain('whsec_');
  });

  it('runs a band’s branch through a confirmation that names how many leads, once however often it is clicked', async () => {
    await page.click('.branch-card[data-branch-band="warm"] [data-action=run]');
    const dialog = page.locator('dialog.confirm');
    await dialog.waitFor();
    expect(await dialog.locator('.confirm-message').textContent()).toBe('Run technical-content for 2 leads in warm?');
    // The safe choice has focus; the rest of the page is inert behind the modal.
    expect(await page.evaluate<string | null | undefined>('document.activeElement?.textContent')).toBe('Cancel');
    await page.screenshot({ path: join(shots, 'nurturing-confirm.png') });

    // Escape cancels: nothing is sent.
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await page.evaluate<string | null | undefined>("document.activeElement?.getAttribute('data-action')")).toBe('run');

    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await dialog.locator('[data-confirm]').dblclick();
    await dialog.waitFor({ state: 'detached' });
    const result = page.locator('.branch-card[data-branch-band="warm"] .trigger-result');
    await expect.poll(() => result.textContent()).toContain('Ran technical-content for 2 leads in warm');
    expect(await result.getAttribute('data-replayed')).toBe('false');

    const feed = await api<{ items: { type: string; lead: { email: string } }[] }>('/v1/changes?limit=1000');
    const triggered = feed.items.filter((c) => c.type === 'branch.triggered');
    expect(triggered.map((c) => c.lead.email).sort()).toEqual(['ana@globex.io', 'bo@globex.io']);
  });

  it('shows the deliveries in the log, and retries the one that failed', async () => {
    // The dispatcher runs right after the trigger: one delivery answered 503, the other delivered.
    const { webhooks } = await api<{ webhooks: { id: string }[] }>('/v1/webhooks');
    const hook = webhooks[0]!;
    await until(
      'both deliveries tried',
      () => api<{ deliveries: { status: string; attempts: number }[] }>(`/v1/webhooks/${hook.id}/deliveries`),
      (p) => p.deliveries.length === 2 && p.deliveries.every((d) => d.attempts === 1),
    );

    const item = page.locator('.webhook', { hasText: receiverUrl });
    await item.locator('[data-action=log]').click();
    expect(await item.locator('[data-action=log]').getAttribute('aria-expanded')).toBe('true');
    const rows = item.locator('table.deliveries tbody tr');
    await expect.poll(() => rows.count()).toBe(2);
    const failed = item.locator('tbody tr[data-status=pending]');
    expect(await failed.textContent()).toContain('HTTP 503');
    // The status once, then what the receiver said: the stored error repeats the status first.
    const answer = failed.locator('td', { has: page.locator('.http-status') });
    expect([await answer.locator('.http-status').textContent(), await answer.locator('.delivery-error').textContent()]).toEqual(['HTTP 503', 'not now']);
    expect(await item.locator('tbody tr[data-status=delivered]').count()).toBe(1);
    expect(await item.locator('.log-counts').textContent()).toBe('1 pending · 1 delivered · 0 failed');
    // The attempts list of the failed one.
    await failed.locator('summary').click();
    expect(await failed.locator('details ol li').count()).toBe(1);
    expect(await failed.locator('details ol').textContent()).toContain('not now');

    // Filtered by status.
    await item.locator('select[name=status]').selectOption('delivered');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-status')).toBe('delivered');
    expect(await item.locator('tbody [data-action=retry]').count()).toBe(0);
    await item.locator('select[name=status]').selectOption('');
    await expect.poll(() => rows.count()).toBe(2);
    await page.screenshot({ path: join(shots, 'nurturing-deliveries.png'), fullPage: true });

    const failedId = await failed.getAttribute('data-delivery-id');
    await failed.locator('[data-action=retry]').click();
    await expect.poll(() => item.locator('tbody tr[data-status=delivered]').count(), { timeout: 15_000 }).toBe(2);
    expect(await item.locator(`tbody tr[data-delivery-id="${failedId}"]`).getAttribute('data-status')).toBe('delivered');
    await expect.poll(() => item.locator('.delivery-log [role=status]').textContent()).toContain('was delivered');
    await page.screenshot({ path: join(shots, 'nurturing-retried.png'), fullPage: true });

    // Three requests: the 503, the other lead's, and the retry with the same webhook-id; all signed
    // with the secret the page showed.
    expect(received.map((r) => r.answered)).toEqual([503, 204, 204]);
    expect(received[2]!.id).toBe(received[0]!.id);
    for (const r of received) {
      const headers = {
        'webhook-id': String(r.headers['webhook-id']),
        'webhook-timestamp': String(r.headers['webhook-timestamp']),
        'webhook-signature': String(r.headers['webhook-signature']),
      };
      expect(() => new Webhook(secret).verify(r.body, headers)).not.toThrow();
    }
  });

  it('is readable on a phone', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await page.evaluate('window.scrollTo(0, 0)');
      await page.screenshot({ path: join(shots, 'nurturing-phone.png'), fullPage: true });
      // Nothing wider than the screen but the tables, which scroll inside their own region.
      const overflow = await page.evaluate<number>(overflowJs);
      expect(overflow).toBeLessThanOrEqual(0);
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
  });
});

describe("a band's members page", () => {
  const rows = () => page.locator('#band-view tbody tr');

  it('opens from the band’s card in the segments, highest score first, paged with the cursor', async () => {
    await page.click('#nav-segments');
    await page.locator('#segments-view').waitFor();
    const seeAll = page.locator('#segments-view [data-band="cold"] a[href="#band/cold"]');
    await seeAll.click();
    await page.waitForURL('**#band/cold');
    expect(await page.locator('#band-title').textContent()).toBe('cold members');
    await expect.poll(() => rows().count()).toBe(50);
    const pager = page.locator('#band-view .pager');
    expect(await pager.locator('.pager-info').textContent()).toBe('Page 1: Leads 1–50 of 60');
    expect(await page.locator('#band-view th[aria-sort=descending]').textContent()).toContain('Score');
    await page.screenshot({ path: join(shots, 'band-members.png'), fullPage: true });

    await pager.locator('[data-page=next]').click();
    await expect.poll(() => rows().count()).toBe(10);
    expect(await pager.locator('.pager-info').textContent()).toBe('Page 2: Leads 51–60 of 60');
    // The last page: Next cannot be used, and focus moved to Previous.
    expect(await pager.locator('[data-page=next]').getAttribute('aria-disabled')).toBe('true');
    expect(await page.evaluate<string | null | undefined>("document.activeElement?.getAttribute('data-page')")).toBe('previous');
    const secondPage = await rows().evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-lead-id')));

    await page.keyboard.press('Enter');
    await expect.poll(() => rows().count()).toBe(50);
    const firstPage = await rows().evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-lead-id')));
    expect(new Set([...firstPage, ...secondPage]).size).toBe(60);
    const scores = await page.locator('#band-view tbody td.member-total').allTextContents();
    expect(scores.map(Number)).toEqual([...scores.map(Number)].sort((a, b) => b - a));
  });

  it('searches as one types, and shows whatever was typed into a profile as text', async () => {
    await page.fill('#member-search', 'initech');
    await expect.poll(() => rows().count()).toBe(30);
    for (const text of await rows().allTextContents()) expect(text.toLowerCase()).toContain('initech');
    expect(await page.locator('#band-view .pager-info').textContent()).toBe('Page 1: Matches 1–30 for “initech”');
    await page.screenshot({ path: join(shots, 'band-members-search.png'), fullPage: true });

    await page.fill('#member-search', '<img');
    await expect.poll(() => rows().count()).toBe(1);
    expect(await rows().first().textContent()).toContain(XSS);
    expect(await page.locator('#band-view img').count()).toBe(0);
    expect(await page.evaluate<unknown>('window.__pwned')).toBeUndefined();

    await page.fill('#member-search', 'nobody-matches-this');
    await expect.poll(() => page.locator('#band-view .empty').textContent()).toBe('No member of cold matches “nobody-matches-this”.');
    expect(await rows().count()).toBe(0);

    await page.setViewportSize({ width: 390, height: 844 });
    await page.fill('#member-search', '');
    await expect.poll(() => rows().count()).toBe(50);
    await page.screenshot({ path: join(shots, 'band-members-phone.png'), fullPage: false });
    const overflow = await page.evaluate<number>(overflowJs);
    expect(overflow).toBeLessThanOrEqual(0);
  });
});
