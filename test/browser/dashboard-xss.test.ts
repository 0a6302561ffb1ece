/**
 * Every tracked value is attacker-controlled: a visitor types what they like into a form, a page
 * title or a URL. This test stores script and markup payloads in every field the worker keeps, then
 * opens every dashboard view and checks that nothing ran and no dialog opened, and that the payloads
 * are on screen as the text they are. Screenshots of each view go to test-results/screenshots.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshStack, type Stack } from './fresh-stack';
import { launchChromium } from './chromium';

declare const window: { __xss?: string[] };

let stack: Stack;
let browser: Browser;
const shots = join(process.cwd(), 'test-results', 'screenshots');

beforeAll(async () => {
  mkdirSync(shots, { recursive: true });
  stack = await freshStack('xss');
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

/** Each payload, if it ever ran, would record its name in window.__xss. */
const payloads = (where: string) => [
  `<script>(window.__xss=window.__xss||[]).push('${where}-script')</script>`,
  `<img src=x onerror="(window.__xss=window.__xss||[]).push('${where}-img')">`,
  `"><svg onload="(window.__xss=window.__xss||[]).push('${where}-svg')">`,
  `javascript:(window.__xss=window.__xss||[]).push('${where}-href')`,
];
/** Two payloads per value: profile values over 200 characters are not kept at all. */
const one = (where: string) => payloads(where).slice(0, 2).join(' ');
const two = (where: string) => payloads(where).slice(2).join(' ');

describe('the dashboard with hostile data', () => {
  it('renders script and markup payloads in every tracked field as text, on every view', async () => {
    const origin = new URL(stack.demoUrl).origin;
    const email = `mallory.${Date.now()}@evil.example`;
    const visitor = `xss-${Date.now()}`;
    const at = Date.now();
    const event = (n: number, type: string, extra: Record<string, unknown>) => ({ id: `xss-${at}-${n}`, type, ts: at + n, visitor, ...extra });
    const res = await fetch(`${stack.workerUrl}/v1/collect`, {
      method: 'POST',
      headers: { origin, 'content-type': 'text/plain' },
      body: JSON.stringify({
        site: stack.siteKey,
        events: [
          event(1, 'identify', {
            traits: { email, firstName: one('first'), lastName: two('last'), company: one('company'), jobTitle: one('job'), country: two('country'), [one('custom-key').slice(0, 60)]: one('custom') },
          }),
          event(2, 'page_view', { url: `${origin}/pricing?q=${encodeURIComponent(one('url'))}#${one('hash')}`, title: one('title'), referrer: `https://ref.example/${one('ref')}` }),
          event(3, 'form_submit', { url: `${origin}/contact`, title: one('form-title'), fields: { email, message: one('field'), [one('field-name').slice(0, 60)]: 'x' }, contentType: '<svg onload=alert(1)>ct', props: { form: one('form') } }),
          event(4, 'download', { url: `${origin}/files/${encodeURIComponent(one('file'))}.pdf`, title: one('link'), contentType: 'white_paper' }),
          // Event type names are restricted to letters, digits and _ . : - (checked apart): custom
          // events carry their payloads in props.
          event(5, 'webinar_signup', { url: `${origin}/`, props: { note: one('prop') } }),
        ],
      }),
    });
    expect(res.status).toBe(202);
    const answer = (await res.json()) as { accepted: string[]; rejected: unknown[] };
    expect(answer.rejected).toEqual([]);

    const context = await browser.newContext();
    const page = await context.newPage();
    const dialogs: string[] = [];
    page.on('dialog', async (d) => {
      dialogs.push(d.message());
      await d.dismiss();
    });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(stack.dashboardUrl);
    await page.fill('#signin input[name=apiKey]', stack.apiKey);
    await page.click('#signin button[type=submit]');

    const leadRow = page.locator(`[data-lead-id]`, { hasText: email }).first();
    await leadRow.waitFor({ timeout: 15_000 });
    await expectInert(page, 'segments');
    expect(await page.locator('#bands').textContent()).toContain("<script>(window.__xss=window.__xss||[]).push('first-script')</script>");
    await page.screenshot({ path: join(shots, 'xss-segments.png'), fullPage: true });

    await leadRow.locator('a').first().click();
    await page.locator('#lead [data-score="total"]').waitFor();
    await page.waitForTimeout(500);
    await expectInert(page, 'lead');
    const leadText = (await page.locator('#lead').textContent()) ?? '';
    for (const where of ['company', 'job', 'title']) expect(leadText).toContain(`<img src=x onerror="(window.__xss=window.__xss||[]).push('${where}-img')">`);
    await page.screenshot({ path: join(shots, 'xss-lead.png'), fullPage: true });

    // Every other view the dashboard has, by its hash route; each must stay inert.
    for (const route of ['#model', '#nurturing', `#band/warm`, `#band/hot`]) {
      await page.evaluate((r) => (location.hash = r), route);
      await page.waitForTimeout(1500);
      await expectInert(page, route);
      await page.screenshot({ path: join(shots, `xss-${route.replace(/\W+/g, '-').replace(/^-|-$/g, '')}.png`), fullPage: true });
    }
    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });
});

declare const location: { hash: string };

async function expectInert(page: Page, view: string) {
  expect(await page.evaluate(() => window.__xss ?? []), view).toEqual([]);
  // No element anywhere carries an inline handler or a javascript: link built from the data.
  const handlers = await page.evaluate(() =>
    Array.from((globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ getAttributeNames(): string[]; getAttribute(n: string): string | null }> } }).document.querySelectorAll('*'))
      .flatMap((el) => el.getAttributeNames().filter((n) => n.startsWith('on') || ((n === 'href' || n === 'src') && /^\s*javascript:/i.test(el.getAttribute(n) ?? '')))),
  );
  expect(handlers, view).toEqual([]);
}
