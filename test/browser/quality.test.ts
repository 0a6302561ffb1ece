/**
 * The model-quality view (`#quality`) in a real browser against `wrangler dev`: conversions per
 * band and stage, the rules' lift, and a suggestion learnt from the site's outcomes, applied
 * through the model editor's preview and saved as a new version.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './chromium';
import { freshStack, type Stack } from './fresh-stack';
import { flatPagesModel } from '../unit/quality/synthetic';

let stack: Stack;
let browser: Browser;
const shots = join(process.cwd(), 'test-results', 'screenshots');

type Json = Record<string, any>;

function api(path: string, init: RequestInit = {}) {
  return fetch(`${stack.workerUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
  });
}

const PAGES = ['pricing', 'blog'] as const;
const flat = flatPagesModel(PAGES);

const run = Date.now();

beforeAll(async () => {
  mkdirSync(shots, { recursive: true });
  stack = await freshStack('quality');
  browser = await launchChromium();
  expect((await api('/v1/model', { method: 'PUT', body: JSON.stringify(flat) })).status).toBe(201);

  // 60 leads: pricing readers are mostly won, blog readers mostly lost (a few of each the other way).
  const leads = Array.from({ length: 60 }, (_, i) => ({ email: `buyer${i}.${run}@corp${i}.example`, pricing: i % 2 === 0, won: i % 2 === 0 ? i % 10 !== 0 : i % 10 === 1 }));
  const events = leads.flatMap((l, i) => [
    { id: `q-${run}-${i}-h`, type: 'page_view', ts: Date.now() - 3_600_000, email: l.email, url: 'https://www.initech.io/' },
    { id: `q-${run}-${i}-p`, type: 'page_view', ts: Date.now() - 3_500_000, email: l.email, url: `https://www.initech.io/${l.pricing ? 'pricing' : 'blog'}` },
  ]);
  for (let i = 0; i < events.length; i += 100) {
    expect((await api('/v1/events', { method: 'POST', body: JSON.stringify({ events: events.slice(i, i + 100) }) })).status).toBe(202);
  }
  const { leads: listed } = (await (await api('/v1/leads?limit=200')).json()) as { leads: { id: string; email: string }[] };
  const idOf = new Map(listed.map((l) => [l.email, l.id]));
  for (const l of leads) {
    const body = l.won ? { stage: 'customer' } : { feedback: { outcome: 'lost' } };
    expect((await api(`/v1/leads/${idOf.get(l.email)}`, { method: 'PATCH', body: JSON.stringify(body) })).status).toBe(200);
  }
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe('the model-quality view', () => {
  it('shows conversions and lift, and applies a suggestion through the preview', { timeout: 120_000 }, async () => {
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(String(err)));

    await page.goto(`${stack.dashboardUrl}#quality`);
    await page.fill('#signin input[name=apiKey]', stack.apiKey);
    await page.click('#signin button[type=submit]');
    await page.locator('#quality-bands').waitFor();
    expect(await page.locator('#nav-quality').getAttribute('aria-current')).toBe('page');
    const suggested = await (await api('/v1/quality/suggestion')).json() as Json;
    expect(await page.locator('#quality-outcomes').textContent()).toContain(`${suggested.won} won`);
    // Of the leads that reached customer, all reached it: the counts behind the rate are shown.
    const stageRow = page.locator('#quality-stages tr[data-key="customer"] td[data-col="customer"]');
    expect(await stageRow.textContent()).toContain(`${suggested.won} of ${suggested.won}`);
    expect(await page.locator('#quality-rules tr[data-rule="page-pricing"] td[data-col="lift"]').textContent()).toMatch(/^×\d/);

    // The suggestion: pricing up, blog down, with the backtest beside the current model.
    expect(suggested.enough).toBe(true);
    const points = Object.fromEntries(suggested.rules.map((r: Json) => [r.ruleId, r.suggested]));
    expect(points['page-pricing']).toBeGreaterThan(0);
    expect(points['page-blog']).toBeLessThan(0);
    expect(await page.locator('#quality-suggestion tr[data-rule="page-pricing"] td[data-col="suggested"]').textContent()).toContain(String(points['page-pricing']));
    expect(await page.locator('#quality-backtest').textContent()).toContain('AUC');
    expect(await page.locator('#quality-held-out').textContent()).toContain('did not learn from');
    await page.screenshot({ path: join(shots, 'quality.png'), fullPage: true });

    // Nothing is saved until the marketer saves it from the editor, after its preview.
    await page.click('#quality-preview');
    await page.locator('#model-check', { hasText: 'The model is valid' }).waitFor({ timeout: 20_000 });
    expect(await page.locator('#nav-model').getAttribute('aria-current')).toBe('page');
    expect(JSON.parse(await page.locator('#model-json').inputValue()).behaviourRules.map((r: Json) => r.points)).toEqual(
      suggested.model.behaviourRules.map((r: Json) => r.points),
    );
    expect(await page.locator('#model-check').textContent()).toMatch(/of 60 leads would change band/);
    expect(((await (await api('/v1/model')).json()) as Json).version).toBe(1);
    await page.screenshot({ path: join(shots, 'quality-preview.png'), fullPage: true });

    await page.locator('#model-save').click();
    await page.locator('#model-progress[data-status="done"]').waitFor({ timeout: 30_000 });
    const saved = (await (await api('/v1/model')).json()) as Json;
    expect(saved.version).toBe(2);
    expect(saved.model.behaviourRules.map((r: Json) => r.points)).toEqual(suggested.model.behaviourRules.map((r: Json) => r.points));
    expect(pageErrors).toEqual([]);
    await context.close();
  });
});
