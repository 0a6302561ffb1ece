/**
 * The whole path in a real browser: the demo site with the snippet → the worker → D1 → the
 * dashboard, against `wrangler dev` started as `npm start` starts it.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshStack, type Stack } from './fresh-stack';
import { launchChromium, missingResources } from './chromium';

// Page globals used inside `evaluate` (this file is type-checked without the DOM library).
declare const sessionStorage: Record<string, string>;
declare const localStorage: Record<string, string>;
declare const document: { cookie: string };

// The page's global, for functions run inside Chromium: the test project has no DOM types.
declare const window: unknown;

let stack: Stack;
let browser: Browser;
const shots = join(process.cwd(), 'test-results', 'screenshots');

beforeAll(async () => {
  mkdirSync(shots, { recursive: true });
  stack = await freshStack('e2e');
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

interface Lead {
  id: string;
  email: string;
  scores: { fit: number; activity: number; engagement: number };
  score: number;
  band: string | null;
  profile: Record<string, unknown>;
  breakdown: { ruleId: string }[];
}

/** The demo site's buyer journey: pricing, references, then the demo-request form. */
async function toDemoRequest(site: Page): Promise<void> {
  await site.click('text=Pricing');
  await site.waitForURL('**/pricing');
  await site.click('nav >> text=References');
  await site.waitForURL('**/references');
  await site.click('nav >> text=Request a demo');
  await site.waitForURL('**/contact');
}

async function waitForLead(email: string, until: (l: Lead) => boolean): Promise<Lead> {
  const deadline = Date.now() + 15_000;
  let last: Lead | undefined;
  while (Date.now() < deadline) {
    const headers = { authorization: `Bearer ${stack.apiKey}` };
    const list = (await (await fetch(`${stack.workerUrl}/v1/leads?q=${encodeURIComponent(email)}`, { headers })).json()) as { leads: Lead[] };
    const found = list.leads.find((l) => l.email === email);
    if (found) {
      last = (await (await fetch(`${stack.workerUrl}/v1/leads/${found.id}`, { headers })).json()) as Lead;
      if (until(last)) return last;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`lead ${email} never got there; last seen: ${JSON.stringify(last)}`);
}

describe('demo site → worker → dashboard', () => {
  it('scores a visitor who browses pricing and references then requests a demo, and shows it hot', async () => {
    const email = `ana.${Date.now()}@globex.io`;
    const context = await browser.newContext();
    const site = await context.newPage();
    const sent: string[] = [];
    const missing = missingResources(site);
    site.on('request', (req) => {
      if (req.url().startsWith(`${stack.workerUrl}/v1/collect`)) sent.push(req.postData() ?? '');
    });

    await site.goto(stack.demoUrl);
    await toDemoRequest(site);
    await site.fill('input[name=email]', email);
    await site.fill('input[name=first_name]', 'Ana');
    await site.fill('input[name=job_title]', 'Head of Marketing');
    await site.fill('input[name=company]', 'Globex');
    await site.selectOption('select[name=industry]', 'Software');
    await site.fill('input[name=password]', 'hunter2-never-sent');
    await site.screenshot({ path: join(shots, 'demo-contact.png'), fullPage: true });
    await site.click('button[type=submit]');
    await site.waitForURL('**/thanks');
    expect(missing).toEqual([]);

    // Home 5, pricing 20, references 15, contact 5, form 10 + demo request 50: activity reaches its 100 cap.
    // Head of Marketing 25 + 15, 200–999 people 10, software 10: fit 60.
    const lead = await waitForLead(email, (l) => l.scores.activity >= 100);
    expect(lead.scores).toEqual({ fit: 60, activity: 100, engagement: 0 });
    expect(lead.band).toBe('hot');
    expect(lead.profile).toMatchObject({ firstName: 'Ana', jobTitle: 'Head of Marketing', company: 'Globex', companySize: '200-999', industry: 'Software' });
    expect(lead.breakdown.map((b) => b.ruleId)).toEqual(
      expect.arrayContaining(['page-view', 'pricing-page', 'references-page', 'form-submit', 'demo-or-quote-request', 'job-marketing']),
    );
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.join('\n')).not.toContain('hunter2-never-sent');
    expect(JSON.stringify(lead)).not.toContain('hunter2-never-sent');

    const dash = await context.newPage();
    await dash.goto(stack.dashboardUrl);
    await dash.fill('#signin input[name=apiKey]', stack.apiKey);
    await dash.click('#signin button[type=submit]');
    const row = dash.locator(`[data-band="hot"] [data-lead-id="${lead.id}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.textContent()).toContain(email);
    await dash.screenshot({ path: join(shots, 'dashboard-segments.png'), fullPage: true });
    // The charts: a bar per 5-point bucket that holds leads, the hot lead's among them; a dashed
    // boundary at each band's lower limit but the first; a line per band and one for the excluded.
    const charts = await dash.evaluate(() => {
      const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ textContent: string | null }> } }).document;
      const texts = (sel: string) => Array.from(doc.querySelectorAll(sel)).map((e) => e.textContent);
      return { bars: texts('#charts .bar title'), bounds: texts('#charts .bound line').length, ticks: texts('#charts .bound .tick'), series: texts('#charts polyline').length };
    });
    expect(charts.bars).toContainEqual(expect.stringMatching(/^160–165: [1-9]\d*$/));
    expect(charts.bounds).toBe(2);
    expect(charts.ticks).toEqual(['0', '25', '75']);
    expect(charts.series).toBe(4);

    // Signed in by an HttpOnly session cookie: the key is nowhere the page's script could reach.
    const session = (await context.cookies(stack.workerUrl)).find((c) => c.name === 'leadscore_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(session!.value).not.toContain(stack.apiKey);
    const reachable = await dash.evaluate(() => JSON.stringify([{ ...sessionStorage }, { ...localStorage }, document.cookie]));
    expect(reachable).not.toContain('sk_');
    expect(reachable).not.toContain('leadscore_session');

    // A write with the cookie alone is refused; with the session's CSRF token, from the page's own
    // origin (the Origin header Chromium adds), it goes through.
    const writes = await dash.evaluate(async (leadId) => {
      const patch = (headers: Record<string, string>) =>
        fetch(`/v1/leads/${leadId}`, {
          // The default credentials, same-origin, are what carry the cookie.
          method: 'PATCH',
          headers: { 'Content-Type': 'application/json', ...headers },
          body: JSON.stringify({ feedback: { note: 'seen in the end-to-end test' } }),
        }).then((r) => r.status);
      const { csrfToken } = (await (await fetch('/dashboard/session')).json()) as { csrfToken: string };
      return [await patch({}), await patch({ 'X-CSRF-Token': csrfToken })];
    }, lead.id);
    expect(writes).toEqual([403, 200]);

    await row.locator('a, button').first().click();
    await dash.locator('#lead [data-score="total"]').waitFor();
    expect(await dash.locator('#lead [data-score="fit"]').textContent()).toContain('60');
    expect(await dash.locator('#lead [data-score="activity"]').textContent()).toContain('100');
    await dash.screenshot({ path: join(shots, 'dashboard-lead.png'), fullPage: true });

    // Sales move the stage and give feedback from the lead page; what shows is what was stored.
    await dash.selectOption('#sales-stage', 'opportunity');
    await dash.click('.sales-stage button[type=submit]');
    await dash.locator('.sales [role=status]', { hasText: 'Moved to' }).waitFor();
    expect(await dash.locator('#lead .lead-facts').textContent()).toContain('Opportunity');
    await dash.check('.sales-feedback input[name=fit][data-value=good]');
    await dash.fill('#sales-note', 'Met them at the trade fair');
    await dash.click('.sales-feedback button[type=submit]');
    await dash.locator('.sales [role=status]', { hasText: 'Feedback saved' }).waitFor();
    expect(await dash.locator('.feedback-list').textContent()).toContain('Met them at the trade fair');
    const stored = await waitForLead(email, (l) => (l as unknown as { stage: string }).stage === 'opportunity');
    expect((stored as unknown as { feedback: { fit: string; note: string }[] }).feedback).toContainEqual(expect.objectContaining({ fit: 'good', note: 'Met them at the trade fair' }));
    await dash.click('.sales-stage button.secondary');
    await dash.locator('.sales [role=status]', { hasText: 'Sent back to nurturing' }).waitFor();
    // The timeline says why the stage went back.
    const recycled = dash.locator('.tl-transition', { hasText: 'Stage changed: Opportunity → Lead' });
    await recycled.waitFor();
    expect(await recycled.locator('.tl-detail').textContent()).toBe('Recycled to nurturing');
    await dash.screenshot({ path: join(shots, 'dashboard-lead-sales.png'), fullPage: true });

    // A reload keeps the session (the page asks the server, having stored nothing); signing out ends it.
    await dash.reload();
    await dash.locator('#lead [data-score="total"]').waitFor();
    await dash.click('#signout');
    await dash.locator('#signin-view').waitFor();
    expect((await context.cookies(stack.workerUrl)).map((c) => c.name)).not.toContain('leadscore_session');
    await dash.reload();
    await dash.locator('#signin-view').waitFor();
    await context.close();
  });

  it('shows a lead move from cold to hot live, while the demo site is browsed in another page', async () => {
    const email = `leo.${Date.now()}@initech.io`;
    const context = await browser.newContext();
    const dash = await context.newPage();
    await dash.goto(stack.dashboardUrl);
    await dash.fill('#signin input[name=apiKey]', stack.apiKey);
    await dash.click('#signin button[type=submit]');
    await dash.locator('section[data-band="cold"]').waitFor();
    // Set once: still there at the end means the page was never reloaded.
    await dash.evaluate(() => ((window as unknown as { __sameLoad: boolean }).__sameLoad = true));

    const site = await context.newPage();
    await site.goto(stack.demoUrl);
    await site.waitForFunction(() => typeof (window as unknown as { leadscore?: { v?: number } }).leadscore?.v === 'number');
    await site.evaluate((e) => (window as unknown as { leadscore(...a: unknown[]): void }).leadscore('identify', { email: e }), email);
    const inBand = (band: string) => dash.locator(`section[data-band="${band}"] [data-lead-id]`, { hasText: email });
    await inBand('cold').waitFor({ timeout: 15_000 });
    await dash.screenshot({ path: join(shots, 'live-1-cold.png'), fullPage: true });

    await toDemoRequest(site);
    await site.fill('input[name=email]', email);
    await site.fill('input[name=job_title]', 'Head of Marketing');
    await site.fill('input[name=company]', 'Initech');
    await site.click('button[type=submit]');
    await site.waitForURL('**/thanks');

    await inBand('hot').waitFor({ timeout: 15_000 });
    expect(await inBand('cold').count()).toBe(0);
    expect(await dash.evaluate(() => (window as unknown as { __sameLoad?: boolean }).__sameLoad)).toBe(true);
    await dash.screenshot({ path: join(shots, 'live-2-hot.png'), fullPage: true });
    await context.close();
  });
});
