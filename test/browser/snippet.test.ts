/**
 * The snippet alone in a real browser, against `wrangler dev`: each test serves a page of its own
 * from a local server added to the demo site's origins, and what counts is what the worker stored,
 * read back through the API.
 */
import { createServer, type Server } from 'node:http';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/lib/stack.js';
import { freshStack, type Stack } from './fresh-stack';
import { launchChromium } from './chromium';

// The page's globals, for the functions run inside Chromium: the test project has no DOM types.
declare const window: {
  leadscore?: ((...a: unknown[]) => void) & { v?: number };
  addEventListener(type: string, f: (e: { preventDefault(): void }) => void): void;
};
declare const history: { pushState(s: unknown, t: string, url?: string): void; replaceState(s: unknown, t: string, url?: string): void; go(n: number): void; back(): void };
declare const localStorage: { getItem(k: string): string | null };
declare const location: { hash: string };
declare const document: {
  getElementById(id: string): unknown;
  createElement(tag: 'form'): { name: string; innerHTML: string; addEventListener(t: string, f: (e: { preventDefault(): void }) => void): void };
  body: { append(n: unknown): void };
};
declare const sessionStorage: Record<string, string | undefined>;
declare const navigator: { sendBeacon(url: string, data?: unknown): boolean };
declare const Navigator: { prototype: object };

let stack: Stack;
let browser: Browser;
let server: Server;
/** Where the test pages are; a page fulfilled by a Playwright route would count as a public address
 * and be refused the loopback worker by Chromium's local network access checks. */
let siteUrl = '';
/** What every path of the test server answers, set by `open`. */
let served = { body: '', headers: {} as Record<string, string> };

beforeAll(async () => {
  stack = await freshStack('snippet');
  const port = await freePort();
  server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...served.headers });
    res.end(served.body);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  siteUrl = `http://localhost:${port}`;
  const demoPort = new URL(stack.demoUrl).port;
  const res = await fetch(`${stack.workerUrl}/admin/sites/demo`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Demo site', origins: [stack.demoUrl, `http://127.0.0.1:${demoPort}`, siteUrl] }),
  });
  expect(res.ok).toBe(true);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => server?.close(r));
  await stack?.stop();
});

interface Stored {
  kind: string;
  id: string;
  type: string;
  ts: number;
  url: string | null;
  contentType: string | null;
}

let n = 0;
const newEmail = (who: string) => `${who}.${Date.now()}.${n++}@globex.io`;

/** A page with the snippet; `attrs` go on its script tag. */
const html = (body = '', attrs = '', head = '') =>
  `<!doctype html><html><head><meta charset="utf-8"><title>Test page</title>${head}` +
  `<script defer src="${stack.workerUrl}/s.js" data-site="${stack.siteKey}"${attrs}></script></head><body>${body}</body></html>`;

interface Opened {
  context: BrowserContext;
  page: Page;
  /** Bodies of every request the page sent to the worker. */
  sent: string[];
  /** Bodies of the requests the worker answered. */
  delivered: string[];
}

/** A fresh context, the test server answering `body` with `headers` on every path. */
async function open(body: string, headers: Record<string, string> = {}): Promise<Opened> {
  served = { body, headers };
  const context = await browser.newContext();
  const page = await context.newPage();
  const sent: string[] = [];
  const delivered: string[] = [];
  const toWorker = (req: Request) => req.url().startsWith(stack.workerUrl) && req.method() === 'POST';
  page.on('request', (req) => toWorker(req) && sent.push(req.postData() ?? ''));
  page.on('requestfinished', (req) => toWorker(req) && delivered.push(req.postData() ?? ''));
  return { context, page, sent, delivered };
}

const ready = (page: Page) => page.waitForFunction(() => window.leadscore?.v === 1, null, { timeout: 10_000 });
const call = (page: Page, ...args: unknown[]) =>
  page.evaluate((a) => window.leadscore!(...a), args);
const leadscoreKeys = (page: Page) =>
  page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('leadscore.')));
const ids = (sent: string[]) => sent.flatMap((b) => (JSON.parse(b) as { events: { id: string }[] }).events.map((e) => e.id));

/** The id of the lead with `email`, if there is one yet. */
async function leadId(email: string): Promise<string | undefined> {
  const res = await fetch(`${stack.workerUrl}/v1/leads?q=${encodeURIComponent(email)}`, { headers: { authorization: `Bearer ${stack.apiKey}` } });
  return ((await res.json()) as { leads: { id: string; email: string }[] }).leads.find((l) => l.email === email)?.id;
}

/** The stored events of the lead with `email`, once `until` holds for them. */
async function storedEvents(email: string, until: (events: Stored[]) => boolean): Promise<Stored[]> {
  const headers = { authorization: `Bearer ${stack.apiKey}` };
  const deadline = Date.now() + 15_000;
  let last: Stored[] = [];
  while (Date.now() < deadline) {
    const id = await leadId(email);
    if (id) {
      const lead = (await (await fetch(`${stack.workerUrl}/v1/leads/${id}`, { headers })).json()) as { timeline: Stored[] };
      last = lead.timeline.filter((t) => t.kind === 'event').sort((a, b) => a.ts - b.ts);
      if (until(last)) return last;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the events of ${email} never got there; last seen: ${JSON.stringify(last)}`);
}

const count = (events: Stored[], type: string, path?: string) =>
  events.filter((e) => e.type === type && (path === undefined || new URL(e.url!).pathname === path)).length;

/** Long enough for a batch (sent about 1 s after its first event) to have gone. */
const settle = (page: Page) => page.waitForTimeout(2_000);

/** All the stored events, read again once `until` held and anything extra had time to arrive. */
async function settled(page: Page, email: string, until: (events: Stored[]) => boolean): Promise<Stored[]> {
  await storedEvents(email, until);
  await settle(page);
  return storedEvents(email, () => true);
}

describe('the snippet in Chromium', () => {
  it('keeps what it could not send while offline and delivers every event once when back online', async () => {
    const email = newEmail('offline');
    const { context, page, sent, delivered } = await open(html());
    await page.goto(`${siteUrl}/t/first`);
    await ready(page);
    await expect.poll(() => sent.length).toBe(1);

    await context.setOffline(true);
    await page.evaluate(() => history.pushState(null, '', '/t/offline'));
    await call(page, 'identify', { email });
    await call(page, 'track', 'offline_click', { what: 'x' });
    await expect.poll(async () => JSON.parse((await page.evaluate(() => localStorage.getItem('leadscore.retry'))) ?? '[]').length).toBe(3);

    // Kept, not sent: a beacon or a fetch now would have been lost or failed.
    expect(sent).toHaveLength(1);
    await context.setOffline(false);
    await page.goto(`${siteUrl}/t/second`);
    const events = await storedEvents(email, (e) => count(e, 'page_view', '/t/second') > 0);
    expect(events.map((e) => e.type).sort()).toEqual(['identify', 'offline_click', 'page_view', 'page_view', 'page_view']);
    expect(count(events, 'page_view', '/t/first')).toBe(1);
    expect(count(events, 'page_view', '/t/offline')).toBe(1);
    expect(count(events, 'page_view', '/t/second')).toBe(1);
    await settle(page);
    // What the page sent is what was stored; a request the worker answered never carried an event
    // another answered one had (a request cut short by the navigation has no known outcome).
    expect([...new Set(ids(sent))].sort()).toEqual(events.map((e) => e.id).sort());
    const reached = ids(delivered);
    expect(new Set(reached).size).toBe(reached.length);
    expect(await page.evaluate(() => localStorage.getItem('leadscore.retry'))).toBeNull();
    await context.close();
  });

  it('sends with fetch while the page lives, with a beacon when it leaves', async () => {
    const email = newEmail('beacon');
    const { context, page } = await open(html());
    // Beacons show up as fetches in the request log: count the calls, in storage that outlives the page.
    await context.addInitScript(() => {
      const b = navigator.sendBeacon.bind(navigator);
      navigator.sendBeacon = (url, data) => {
        sessionStorage.beacons = (+(sessionStorage.beacons ?? 0) + 1).toString();
        return b(url, data);
      };
    });
    const beacons = () => page.evaluate(() => +(sessionStorage.beacons ?? 0));
    await page.goto(`${siteUrl}/t/alive`);
    await ready(page);
    await call(page, 'identify', { email });
    await storedEvents(email, (e) => count(e, 'identify') === 1 && count(e, 'page_view') === 1);
    expect(await beacons()).toBe(0);
    // Queued for the 1 s batch, then the page goes: pagehide sends it.
    await page.evaluate(() => history.pushState(null, '', '/t/leaving'));
    await page.goto(`${siteUrl}/t/next`);
    const events = await settled(page, email, (e) => count(e, 'page_view', '/t/leaving') === 1);
    expect(await beacons()).toBe(1);
    expect(events.map((e) => e.type).sort()).toEqual(['identify', 'page_view', 'page_view', 'page_view']);
    await context.close();
  });

  it('counts a page view for pushState, replaceState and back-forward navigation, with their URLs', async () => {
    const email = newEmail('spa');
    const { context, page } = await open(html());
    await page.goto(`${siteUrl}/t/spa`);
    await ready(page);
    await call(page, 'identify', { email });
    await page.evaluate(() => history.pushState({ a: 1 }, '', '/t/spa/pushed?tab=2'));
    await page.evaluate(() => history.replaceState({ a: 2 }, '', '/t/spa/replaced'));
    // Not new pages: a hash change and a state-only replaceState.
    await page.evaluate(() => history.pushState(null, '', '/t/spa/replaced#section'));
    await page.evaluate(() => (location.hash = '#other'));
    await page.evaluate(() => history.replaceState({ a: 3 }, ''));
    await page.evaluate(() => history.go(-3));
    await page.waitForURL('**/t/spa');

    const events = await settled(page, email, (e) => count(e, 'page_view') >= 4);
    const views = events.filter((e) => e.type === 'page_view').map((e) => new URL(e.url!));
    expect(views.map((u) => u.pathname + u.search).sort()).toEqual(['/t/spa', '/t/spa', '/t/spa/pushed?tab=2', '/t/spa/replaced'].sort());
    expect(count(events, 'identify')).toBe(1);
    await context.close();
  });

  it('with data-hash="true", counts each #route of a hash-routed app as a page', async () => {
    const email = newEmail('hash');
    const { context, page } = await open(html('<a id="go" href="#/pricing">Pricing</a>', ' data-hash="true"'));
    await page.goto(`${siteUrl}/t/app#/home`);
    await ready(page);
    await call(page, 'identify', { email });
    await page.click('#go');
    await page.evaluate(() => (location.hash = '#/about'));
    await page.evaluate(() => history.pushState(null, '', '#/contact'));
    await page.evaluate(() => history.back());
    await page.waitForURL('**#/about');

    const events = await settled(page, email, (e) => count(e, 'page_view') >= 5);
    const views = events.filter((e) => e.type === 'page_view').map((e) => new URL(e.url!).hash);
    expect(views).toEqual(['#/home', '#/pricing', '#/about', '#/contact', '#/about']);
    await context.close();
  });

  it('records left, middle and ctrl clicks on file links and download links, with their content type', async () => {
    const email = newEmail('downloads');
    const { context, page } = await open(
      html(
        `<a id="left" href="/files/white-paper.pdf" data-leadscore-content-type="white_paper">White paper</a>
         <a id="middle" href="/files/case-study.PDF" data-leadscore-content-type="case_study">Case study</a>
         <a id="ctrl" href="/files/pricing.xlsx" data-leadscore-content-type="price_list">Prices</a>
         <a id="attr" href="/t/export?format=sheet" download data-leadscore-content-type="datasheet">Data sheet</a>
         <a id="page" href="/t/not-a-file">Not a file</a>
         <a id="dwg" href="/files/plan.dwg" data-leadscore-content-type="cad_model">Plan</a>
         <a id="step" href="/files/part.STEP">Part</a>
         <a id="exe" href="/files/setup.exe">Installer</a>`,
        ' data-download-extensions=".dwg, step"',
      ),
    );
    await page.goto(`${siteUrl}/t/downloads`);
    await ready(page);
    await call(page, 'identify', { email });
    // The page stays, so that every click is on the same page; the snippet listens before this runs.
    await page.evaluate(() => {
      for (const t of ['click', 'auxclick']) window.addEventListener(t, (e) => e.preventDefault());
    });
    await page.click('#left');
    await page.click('#middle', { button: 'middle' });
    await page.click('#ctrl', { modifiers: ['ControlOrMeta'] });
    await page.click('#attr');
    await page.click('#page');
    await page.click('#left', { button: 'right' });
    await page.click('#dwg');
    await page.click('#step');
    await page.click('#exe');

    const events = await settled(page, email, (e) => count(e, 'download') >= 6);
    const downloads = events.filter((e) => e.type === 'download');
    expect(downloads.map((d) => [new URL(d.url!).pathname, d.contentType]).sort()).toEqual(
      [
        ['/files/white-paper.pdf', 'white_paper'],
        ['/files/case-study.PDF', 'case_study'],
        ['/files/pricing.xlsx', 'price_list'],
        ['/t/export', 'datasheet'],
        ['/files/plan.dwg', 'cad_model'],
        ['/files/part.STEP', null],
      ].sort(),
    );
    expect(count(events, 'page_view')).toBe(1);
    await context.close();
  });

  it('captures forms submitted by script and forms added after load, their fields mapped into the profile', async () => {
    const email = newEmail('script-form');
    const { context, page } = await open(
      html(
        `<form id="lead" action="/t/thanks" method="get">
           <input name="field_7" type="email"><input name="contact[first_name]"><input name="LastName">
           <input name="job_title"><input name="Company_Name__c"><input name="NumEmployees">
           <select name="Industry"><option>Software</option><option selected>Retail</option></select>
           <input name="Country/Region"><input name="mobile_phone" type="tel">
           <input type="hidden" name="content_type" value="demo_request">
         </form>`,
      ),
    );
    await page.goto(`${siteUrl}/t/script-form`);
    await ready(page);
    for (const [name, value] of [
      ['field_7', email],
      ['contact[first_name]', 'Ada'],
      ['LastName', 'Lovelace'],
      ['job_title', 'Head of Marketing'],
      ['Company_Name__c', 'Analytical Engines'],
      ['NumEmployees', '51-200'],
      ['Country/Region', 'United Kingdom'],
      ['mobile_phone', '+44 20 7946 0000'],
    ]) await page.fill(`[name="${name}"]`, value!);
    // form.submit() fires no submit event, and the page navigates away at once.
    await page.evaluate(() => (document.getElementById('lead') as unknown as { submit(): void }).submit());
    await page.waitForURL('**/t/thanks**');

    const events = await storedEvents(email, (e) => count(e, 'form_submit') === 1);
    expect(events.find((e) => e.type === 'form_submit')?.contentType).toBe('demo_request');
    const headers = { authorization: `Bearer ${stack.apiKey}` };
    const lead = (await (await fetch(`${stack.workerUrl}/v1/leads/${await leadId(email)}`, { headers })).json()) as { profile: Record<string, unknown> };
    expect(lead.profile).toMatchObject({
      email,
      firstName: 'Ada',
      lastName: 'Lovelace',
      jobTitle: 'Head of Marketing',
      company: 'Analytical Engines',
      companySize: '51-200',
      industry: 'Retail',
      country: 'United Kingdom',
      phone: '+44 20 7946 0000',
    });

    // A form the page adds later, submitted with requestSubmit() and kept on the page by its handler.
    const later = newEmail('late-form');
    await page.evaluate((address) => {
      const f = document.createElement('form');
      f.name = 'newsletter';
      f.innerHTML = `<input type="email" name="e" value="${address}">`;
      f.addEventListener('submit', (e) => e.preventDefault());
      document.body.append(f);
      (f as unknown as { requestSubmit(): void }).requestSubmit();
    }, later);
    await storedEvents(later, (e) => count(e, 'form_submit') === 1);
    await context.close();
  });

  it('never sends nor stores a password or a card number typed into a form', async () => {
    const email = newEmail('form');
    const { context, page, sent } = await open(
      html(
        `<form id="signup" action="/thanks" method="post" data-leadscore-content-type="trial">
           <input name="email" type="email"><input name="company">
           <input name="password" type="password"><input name="secret_answer">
           <input name="billing_ref"><input name="num" autocomplete="cc-number">
           <button type="submit">Go</button>
         </form>`,
      ),
    );
    await page.goto(`${siteUrl}/t/form`);
    await ready(page);
    await page.fill('input[name=email]', email);
    await page.fill('input[name=company]', 'Globex');
    await page.fill('input[name=password]', 'hunter2-never-sent');
    await page.fill('input[name=secret_answer]', 'rosebud-never-sent');
    // A valid card number (Luhn) in a field whose name gives nothing away, and one in a card field.
    await page.fill('input[name=billing_ref]', '4242 4242 4242 4242');
    await page.fill('input[name=num]', '5555555555554444');
    await page.click('button[type=submit]');
    await page.waitForURL('**/thanks');

    const events = await storedEvents(email, (e) => count(e, 'form_submit') > 0 && count(e, 'page_view', '/thanks') > 0);
    expect(events.find((e) => e.type === 'form_submit')?.contentType).toBe('trial');
    const headers = { authorization: `Bearer ${stack.apiKey}` };
    const lead = await (await fetch(`${stack.workerUrl}/v1/leads/${await leadId(email)}`, { headers })).text();
    const bodies = sent.join('\n');
    expect(bodies).toContain('Globex');
    expect(lead).toContain('Globex');
    for (const secret of ['hunter2', 'rosebud', '4242 4242', '4242424242424242', '5555555555554444']) {
      expect(bodies).not.toContain(secret);
      expect(lead).not.toContain(secret);
    }
    await context.close();
  });

  it('with data-consent="required", sends and stores nothing until consent is given', async () => {
    const email = newEmail('consent');
    const { context, page, sent } = await open(html('', ' data-consent="required"'));
    await page.goto(`${siteUrl}/t/consent`);
    await ready(page);
    await call(page, 'identify', { email });
    await page.evaluate(() => history.pushState(null, '', '/t/consent/before'));
    await settle(page);
    expect(sent).toEqual([]);
    expect(await leadscoreKeys(page)).toEqual([]);

    await call(page, 'consent', true);
    await call(page, 'identify', { email });
    await page.evaluate(() => history.pushState(null, '', '/t/consent/after'));
    const events = await settled(page, email, (e) => count(e, 'page_view') > 0);
    // What was raised before consent was dropped, not kept for later.
    expect(events.map((e) => [e.type, new URL(e.url!).pathname])).toEqual([
      ['identify', '/t/consent/before'],
      ['page_view', '/t/consent/after'],
    ]);
    expect(await page.evaluate(() => localStorage.getItem('leadscore.consent'))).toBe('1');

    // Remembered: the next page sends without asking again.
    await page.goto(`${siteUrl}/t/consent/next`);
    await storedEvents(email, (e) => count(e, 'page_view', '/t/consent/next') === 1);
    await context.close();
  });

  it('honours Global Privacy Control and Do Not Track unless data-respect-dnt="false"', async () => {
    for (const signal of ['gpc', 'dnt'] as const) {
      const { context, page, sent } = await open(html());
      await context.addInitScript((s) => {
        if (s === 'gpc') Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true });
        else Object.defineProperty(Navigator.prototype, 'doNotTrack', { get: () => '1' });
      }, signal);
      await page.goto(`${siteUrl}/t/private`);
      await ready(page);
      await call(page, 'identify', { email: newEmail(signal) });
      await page.evaluate(() => history.pushState(null, '', '/t/private/more'));
      await settle(page);
      expect(sent, signal).toEqual([]);
      expect(await leadscoreKeys(page), signal).toEqual([]);
      await context.close();
    }

    const email = newEmail('gpc-ignored');
    const { context, page } = await open(html('', ' data-respect-dnt="false"'));
    await context.addInitScript(() => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true }));
    await page.goto(`${siteUrl}/t/private`);
    await ready(page);
    await call(page, 'identify', { email });
    await storedEvents(email, (e) => count(e, 'page_view') === 1 && count(e, 'identify') === 1);
    await context.close();
  });

  it('replays calls queued by the stub before an async load, and never throws nor logs into the page', async () => {
    const email = newEmail('stub');
    const stub = `<script>window.leadscore = window.leadscore || function () { (window.leadscore.q = window.leadscore.q || []).push(arguments) };
      leadscore('identify', { email: ${JSON.stringify(email)} }); leadscore('track', 'queued_early', { step: 1 });</script>`;
    const page0 = `<!doctype html><html><head><meta charset="utf-8"><title>Stub</title>${stub}` +
      `<script async src="${stack.workerUrl}/s.js" data-site="${stack.siteKey}"></script></head><body></body></html>`;
    const { context, page } = await open(page0);
    const noise: string[] = [];
    page.on('console', (m) => noise.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => noise.push(`error: ${e.message}`));
    await page.goto(`${siteUrl}/t/stub`);
    await ready(page);
    const answers = await page.evaluate(() => {
      const l = window.leadscore!;
      return [l(), l(42), l('track'), l('track', ''), l('identify', 'x'), l('identify'), l('nonsense', 1, 2)].map((a) => a === undefined);
    });
    expect(answers.every(Boolean)).toBe(true);
    const events = await settled(page, email, (e) => count(e, 'queued_early') === 1 && count(e, 'page_view') === 1);
    // The queued identify came before the first page view, so that one is the lead's too.
    expect(events.map((e) => e.type).sort()).toEqual(['identify', 'page_view', 'queued_early']);
    expect(noise).toEqual([]);
    await context.close();
  });

  it('does not double events when the script is on the page twice', async () => {
    const email = newEmail('twice');
    const again = `<script defer src="${stack.workerUrl}/s.js" data-site="${stack.siteKey}"></script>`;
    const { context, page, sent } = await open(html('', '', again));
    await page.goto(`${siteUrl}/t/twice`);
    await ready(page);
    await call(page, 'identify', { email });
    await page.evaluate(() => history.pushState(null, '', '/t/twice/next'));
    const events = await settled(page, email, (e) => count(e, 'page_view') >= 2);
    expect(events.map((e) => e.type).sort()).toEqual(['identify', 'page_view', 'page_view']);
    expect(ids(sent)).toHaveLength(3);
    await context.close();
  });

  it('delivers under a strict Content-Security-Policy', async () => {
    const email = newEmail('csp');
    const worker = new URL(stack.workerUrl).origin;
    const { context, page } = await open(html(), {
      'content-security-policy': `default-src 'none'; script-src ${worker}; connect-src ${worker}`,
    });
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    await page.goto(`${siteUrl}/t/csp`);
    await ready(page);
    await call(page, 'identify', { email });
    await storedEvents(email, (e) => count(e, 'page_view', '/t/csp') === 1 && count(e, 'identify') === 1);
    expect(violations).toEqual([]);
    await context.close();
  });
});
