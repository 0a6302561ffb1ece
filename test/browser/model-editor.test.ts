/**
 * The model editor (`#model`) in a real browser against `wrangler dev`: an invalid edit is named
 * next to its field and nothing is saved, a rule's points changed in the form are previewed (leads
 * per band before and after, the flows, who moves), saved with the recalculation followed to the
 * end, a version restored, and a version saved by someone else meanwhile is caught before saving.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshStack, type Stack } from './fresh-stack';
import { launchChromium } from './chromium';

let stack: Stack;
let browser: Browser;
const shots = join(process.cwd(), 'test-results', 'screenshots');

/** Markup in a rule label: the editor must show it as text, never build an element from it. */
const HOSTILE_LABEL = '<img src=x onerror="window.__pwned=1">Page view';

interface ModelDoc {
  behaviourRules: { id: string; label: string; points: number }[];
  bands: { name: string; min: number; branch: string }[];
  [key: string]: unknown;
}

function api(path: string, init: RequestInit = {}) {
  return fetch(`${stack.workerUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
  });
}

async function currentModel(): Promise<{ version: number; model: ModelDoc }> {
  return (await (await api('/v1/model')).json()) as { version: number; model: ModelDoc };
}

async function recomputeDone(): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const { recompute } = (await (await api('/v1/model/recompute')).json()) as { recompute: { status: string } | null };
    if (recompute?.status === 'done') return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the recompute never finished');
}

async function leadId(email: string): Promise<string> {
  const { leads } = (await (await api(`/v1/leads?q=${encodeURIComponent(email)}`)).json()) as { leads: { id: string; email: string }[] };
  const found = leads.find((l) => l.email === email);
  if (!found) throw new Error(`no lead ${email}`);
  return found.id;
}

const run = Date.now();
const emails = { warm: `wanda.${run}@initech.io`, rising: `ray.${run}@initech.io`, quiet: `quinn.${run}@initech.io` };

beforeAll(async () => {
  mkdirSync(shots, { recursive: true });
  stack = await freshStack('model');
  browser = await launchChromium();

  // Version 1: the default model with markup in a label, as a hostile or careless editor could save it.
  const start = await currentModel();
  const v1 = { ...start.model, behaviourRules: start.model.behaviourRules.map((r) => (r.id === 'page-view' ? { ...r, label: HOSTILE_LABEL } : r)) };
  expect((await api('/v1/model', { method: 'PUT', body: JSON.stringify(v1) })).status).toBe(201);
  await recomputeDone();

  // Three leads: pricing ×3 is 60 (warm), pricing ×1 is 20 (cold), one plain page is 5 (cold).
  const page = (email: string, path: string, i: number) => ({
    id: `ev-${run}-${email.split('.')[0]}-${i}`,
    type: 'page_view',
    ts: Date.now() - 60_000 + i,
    email,
    url: `https://www.initech.io${path}`,
  });
  const events = [
    ...[0, 1, 2].map((i) => page(emails.warm, '/pricing', i)),
    page(emails.rising, '/pricing', 0),
    page(emails.quiet, '/about', 0),
  ];
  const res = await api('/v1/events', { method: 'POST', body: JSON.stringify({ events }) });
  expect(res.status).toBe(202);
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

/** Evaluates an expression in the page (as text: these tests are type-checked without the DOM library). */
const js = <T = unknown>(page: Page, expression: string) => page.evaluate(expression) as Promise<T>;

const cell = (page: Page, band: string, col: 'before' | 'after') => page.locator(`#model-preview tr[data-band="${band}"] td[data-col="${col}"]`);

describe('the model editor', () => {
  it('checks, previews, saves, follows the recalculation and restores', { timeout: 150_000 }, async () => {
    const warmId = await leadId(emails.warm);
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(String(err)));

    await page.goto(`${stack.dashboardUrl}#model`);
    await page.fill('#signin input[name=apiKey]', stack.apiKey);
    await page.click('#signin button[type=submit]');
    const pricing = page.locator('input[data-path="behaviourRules.1.points"]');
    await pricing.waitFor();
    expect(await page.locator('#nav-model').getAttribute('aria-current')).toBe('page');
    expect(await page.locator('#model-summary').textContent()).toContain('Version 1');
    expect(await pricing.inputValue()).toBe('15');

    // The label with markup is text: no element was made from it, no handler ran.
    expect(await page.locator('#model-form label', { hasText: HOSTILE_LABEL }).count()).toBe(1);
    expect(await page.locator('#model-view img').count()).toBe(0);
    expect(await js(page, 'window.__pwned')).toBeUndefined();

    // An invalid edit in the form: the server's issue appears next to the field, Save stays off.
    const warmMin = page.locator('#model-f-bands-1-min');
    await warmMin.fill('-5');
    await page.locator('#model-f-bands-1-min-error', { hasText: 'increasing order' }).waitFor();
    expect(await warmMin.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#model-problems li[data-path="bands.1.min"]').textContent()).toContain('bands.1.min');
    expect(await page.locator('#model-save').isDisabled()).toBe(true);
    expect(JSON.parse(await page.locator('#model-json').inputValue()).bands[1].min).toBe(-5);
    await page.screenshot({ path: join(shots, 'model-invalid.png'), fullPage: true });

    // A JSON syntax error: named with its line and column, and the form waits for the fix.
    const text = await page.locator('#model-json').inputValue();
    const broken = text.replace('"bands": [', '"bands": [,');
    const offset = broken.indexOf('"bands": [,') + '"bands": ['.length;
    const line = broken.slice(0, offset).split('\n').length;
    const column = offset - broken.lastIndexOf('\n', offset - 1);
    await page.locator('#model-json').fill(broken);
    await page.locator('#model-json-error', { hasText: `Line ${line}, column ${column}` }).waitFor();
    expect(await page.locator('#model-json').getAttribute('aria-invalid')).toBe('true');
    expect(await warmMin.isDisabled()).toBe(true);
    expect(await page.locator('#model-save').isDisabled()).toBe(true);
    // Nothing was saved by any of this.
    expect((await currentModel()).version).toBe(1);

    // Back to the saved model, then the change: pricing pages worth 25 instead of 15.
    await page.getByRole('button', { name: 'Discard changes' }).click();
    await page.locator('#model-check', { hasText: 'No changes yet' }).waitFor();
    await pricing.fill('25');
    expect(JSON.parse(await page.locator('#model-json').inputValue()).behaviourRules[1]).toMatchObject({ id: 'pricing-page', points: 25 });

    // The preview: 60 → 90 moves warm to hot, 20 → 30 cold to warm, 5 stays cold.
    await page.locator('#model-check', { hasText: 'The model is valid' }).waitFor();
    expect(await page.locator('#model-check').textContent()).toContain('2 of 3 leads would change band');
    expect([await cell(page, 'cold', 'before').textContent(), await cell(page, 'cold', 'after').textContent()]).toEqual(['2', '1']);
    expect([await cell(page, 'warm', 'before').textContent(), await cell(page, 'warm', 'after').textContent()]).toEqual(['1', '1']);
    expect([await cell(page, 'hot', 'before').textContent(), await cell(page, 'hot', 'after').textContent()]).toEqual(['0', '1']);
    expect(await page.locator('#model-preview .flows li[data-from="warm"][data-to="hot"]').textContent()).toBe('warm → hot: 1');
    expect(await page.locator('#model-preview .flows li[data-from="cold"][data-to="warm"]').textContent()).toBe('cold → warm: 1');
    const sampleLink = page.locator(`#model-preview a[href="#lead/${encodeURIComponent(warmId)}"]`);
    expect(await sampleLink.textContent()).toBe(emails.warm);
    await page.screenshot({ path: join(shots, 'model-preview.png'), fullPage: true });

    // Save: version 2, its recalculation followed to the end.
    const save = page.locator('#model-save');
    expect(await save.textContent()).toBe('Save as version 2');
    await save.click();
    await page.locator('#model-progress[data-status="done"]').waitFor({ timeout: 30_000 });
    expect(await page.locator('#model-progress-text').textContent()).toContain('3 of 3 leads recalculated with version 2');
    expect(await js(page, 'document.activeElement.id')).toBe('model-progress-title');
    await page.locator('#model-versions li[data-version="2"].current').waitFor();
    expect(await page.locator('#model-summary').textContent()).toContain('Version 2');
    const saved = await currentModel();
    expect(saved.version).toBe(2);
    expect(saved.model.behaviourRules.find((r) => r.id === 'pricing-page')?.points).toBe(25);
    expect(await page.locator('#model-check').textContent()).toContain('No changes yet');
    await page.screenshot({ path: join(shots, 'model-saved.png'), fullPage: true });

    // Restore version 1 with the keyboard: confirm first, focus moves to the confirmation.
    await page.locator('#model-versions button[data-restore="1"]').focus();
    await page.keyboard.press('Enter');
    expect(await js(page, 'document.activeElement.textContent')).toBe('Yes, restore version 1');
    await page.keyboard.press('Enter');
    await page.locator('#model-versions li[data-version="3"].current').waitFor({ timeout: 15_000 });
    await page.locator('#model-progress[data-status="done"]').waitFor({ timeout: 30_000 });
    expect(await page.locator('#model-progress-status').textContent()).toContain('Version 1 restored as version 3');
    expect(await pricing.inputValue()).toBe('15');
    const restored = await currentModel();
    expect(restored.version).toBe(3);
    expect(restored.model.behaviourRules.find((r) => r.id === 'pricing-page')?.points).toBe(15);
    expect(restored.model.behaviourRules.find((r) => r.id === 'page-view')?.label).toBe(HOSTILE_LABEL);

    // Someone else saves while an edit is under way: Save says so instead of putting their version aside.
    await pricing.fill('30');
    await page.locator('#model-check', { hasText: 'The model is valid' }).waitFor();
    const theirs = { ...restored.model, bands: restored.model.bands.map((b) => (b.name === 'hot' ? { ...b, min: 80 } : b)) };
    expect((await api('/v1/model', { method: 'PUT', body: JSON.stringify(theirs) })).status).toBe(201);
    await save.click();
    await page.locator('#model-conflict h2', { hasText: 'Someone else saved the model meanwhile' }).waitFor();
    expect(await js(page, 'document.activeElement.id')).toBe('model-conflict-title');
    expect((await currentModel()).version).toBe(4);
    await page.getByRole('button', { name: 'Load version 4' }).click();
    await page.locator('#model-versions li[data-version="4"].current').waitFor();
    expect(await page.locator('#model-f-bands-2-min').inputValue()).toBe('80');
    expect(await pricing.inputValue()).toBe('15');
    expect(await page.locator('#model-conflict').isHidden()).toBe(true);

    // A phone: everything fits the width, nothing scrolls sideways but the tables' own regions.
    await page.setViewportSize({ width: 390, height: 844 });
    await pricing.fill('20');
    await page.locator('#model-check', { hasText: 'The model is valid' }).waitFor();
    expect(await js<number>(page, 'document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(shots, 'model-phone.png'), fullPage: true });
    await page.locator('#model-form').screenshot({ path: join(shots, 'model-phone-form.png') });
    await page.locator('#model-preview').screenshot({ path: join(shots, 'model-phone-preview.png') });
    await page.locator('#model-versions').screenshot({ path: join(shots, 'model-phone-versions.png') });

    expect(await page.locator('#model-view img').count()).toBe(0);
    expect(pageErrors).toEqual([]);
    await context.close();
  });
});
