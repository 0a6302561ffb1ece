/**
 * The segments view in a real browser, for a model of five bands with long names and a band of more
 * members than its card shows at once.
 *
 * The history chart: each band's line is coloured as its card, the bands between the first and the
 * last (one colour) are told apart by their dashes, the legend's names neither overlap nor sit on
 * the plot, and a site's first day is labelled once; the histogram's band names are cut to fit
 * between their bounds. Made for three bands of short names, the chart coloured lines by their index
 * (a fourth band took the excluded leads' grey, a fifth no colour at all), drew its legend inside
 * the plot and one day's date twice over itself, and the histogram printed long names over each
 * other.
 *
 * The page ends with its cards: the visually hidden text of a card's members once escaped the
 * card's scrolling list and stretched the page with thousands of pixels of blank space.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshStack, type Stack } from './fresh-stack';
import { launchChromium, missingResources } from './chromium';

let stack: Stack;
let browser: Browser;
const shots = join(process.cwd(), 'test-results', 'screenshots');

/** More than a card's list holds in a 1,000 px high window (some 6 members). */
const COLD_LEADS = 20;

const BANDS = [
  { name: 'cold', min: 0, branch: 'generic-content' },
  { name: 'curious-about-the-product', min: 20, branch: 'product-content' },
  { name: 'comparing-vendors-this-quarter', min: 40, branch: 'customer-cases' },
  { name: 'warm', min: 60, branch: 'technical-content' },
  { name: 'hot', min: 80, branch: 'sales-meeting' },
];

beforeAll(async () => {
  mkdirSync(shots, { recursive: true });
  stack = await freshStack('charts');
  browser = await launchChromium();
  const headers = { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' };
  const { model } = (await (await fetch(`${stack.workerUrl}/v1/model`, { headers })).json()) as { model: Record<string, unknown> };
  const saved = await fetch(`${stack.workerUrl}/v1/model`, { method: 'PUT', headers, body: JSON.stringify({ ...model, bands: BANDS }) });
  if (saved.status !== 201) throw new Error(`saving the model failed: ${saved.status} ${await saved.text()}`);
  // Leads of no points but an e-mail: all in the first band, more than its card shows at once.
  const now = Date.now();
  const events = Array.from({ length: COLD_LEADS }, (_, i) => ({ id: `seed-${i}`, type: 'identify', ts: now - i * 60_000, visitor: `seed-${i}`, email: `seed${i}@initech.io` }));
  const sent = await fetch(`${stack.workerUrl}/v1/events`, { method: 'POST', headers, body: JSON.stringify({ site: stack.siteKey, events }) });
  if (sent.status !== 202) throw new Error(`sending the leads failed: ${sent.status} ${await sent.text()}`);
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

interface Box {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** What the history chart shows, read in the page: colours as computed from the stylesheet. */
interface Drawn {
  cards: Record<string, string>;
  lines: Record<string, { stroke: string; dash: string }>;
  legend: { name: string; stroke: string; dash: string; box: Box }[];
  plot: Box;
  days: { text: string; anchor: string | null }[];
  /** The histogram's names of the bands, as shown and as their tooltips give them. */
  bounds: { shown: string; title: string; box: Box }[];
  /** How far the page scrolls, and where its content ends, from the top of the page. */
  page: { height: number; content: number };
  /** The first band's list: its height and its content's. */
  coldList: { height: number; content: number; members: number };
}

async function drawn(page: Page): Promise<Drawn> {
  return page.evaluate(() => {
    // This file is type-checked without the DOM library: what the page is asked for, typed here.
    type El = {
      textContent: string | null;
      getAttribute(name: string): string | null;
      querySelector(selector: string): El | null;
      querySelectorAll(selector: string): ArrayLike<El>;
      getBoundingClientRect(): Box;
      scrollHeight: number;
      clientHeight: number;
    };
    const g = globalThis as unknown as { scrollY: number; document: El & { documentElement: El }; getComputedStyle(el: El): { borderTopColor: string; stroke: string; strokeDasharray: string } };
    const all = (root: El, selector: string) => Array.from(root.querySelectorAll(selector));
    const box = (el: El) => {
      const { left, right, top, bottom } = el.getBoundingClientRect();
      return { left, right, top, bottom };
    };
    const chart = all(g.document, '#charts figure.chart').find((f) => f.querySelector('.legend'))!;
    const histogram = all(g.document, '#charts figure.chart').find((f) => f.querySelector('.bound'))!;
    return {
      cards: Object.fromEntries(all(g.document, '.card.band').map((c) => [c.getAttribute('data-band')!, g.getComputedStyle(c).borderTopColor])),
      lines: Object.fromEntries(
        all(chart, '.serie').map((s) => {
          const style = g.getComputedStyle(s.querySelector('polyline')!);
          return [s.getAttribute('data-series')!, { stroke: style.stroke, dash: style.strokeDasharray }];
        }),
      ),
      legend: all(chart, '.legend li').map((li) => {
        const style = g.getComputedStyle(li.querySelector('line')!);
        return { name: li.textContent!, stroke: style.stroke, dash: style.strokeDasharray, box: box(li) };
      }),
      plot: box(chart.querySelector(':scope > svg')!),
      days: all(chart, ':scope > svg text')
        .filter((t) => /^\d{4}-\d{2}-\d{2}$/.test(t.textContent ?? ''))
        .map((t) => ({ text: t.textContent!, anchor: t.getAttribute('text-anchor') })),
      page: { height: g.document.documentElement.scrollHeight, content: g.document.querySelector('#main')!.getBoundingClientRect().bottom + g.scrollY },
      coldList: (() => {
        const list = g.document.querySelector('.card.band[data-band="cold"] .members')!;
        return { height: list.clientHeight, content: list.scrollHeight, members: list.querySelectorAll('.member').length };
      })(),
      bounds: all(histogram, '.bound .name').map((n) => ({ shown: n.querySelector('text')!.textContent!, title: n.querySelector('title')!.textContent!, box: box(n.querySelector('text')!) })),
    };
  });
}

/**
 * In the page, as text (this file is type-checked without the DOM library): the cells among
 * `selector` too narrow for their longest piece of text that lines may not break, each as
 * "piece: needed px in room". Lines break between words and after a hyphen.
 */
const CUT_WORDS = `(selector) => Array.from(document.querySelectorAll(selector)).flatMap((cell) => {
  const longest = (cell.textContent.match(/[^\\s-]+-?/g) ?? []).reduce((a, b) => (b.length > a.length ? b : a), '');
  const probe = document.createElement('span');
  probe.textContent = longest;
  probe.style.whiteSpace = 'nowrap';
  probe.style.position = 'absolute';
  cell.append(probe);
  const needed = probe.getBoundingClientRect().width;
  probe.remove();
  const style = getComputedStyle(cell);
  const room = cell.getBoundingClientRect().width - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return needed > room + 0.5 ? [longest + ': ' + needed.toFixed(1) + ' px in ' + room.toFixed(1)] : [];
})`;

/** In the page: whether it fits the window's width (nothing makes it scroll sideways). */
const FITS_WIDTH = 'document.documentElement.scrollWidth <= document.documentElement.clientWidth';

const overlap = (a: Box, b: Box) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;

describe('the segments view', () => {
  for (const width of [1400, 420]) {
    it(`draws each band in its card's colour, the middle bands apart, names that fit, and no blank page below the cards, ${width} px wide`, async () => {
      const page = await browser.newPage({ viewport: { width, height: 1000 } });
      const missing = missingResources(page);
      await page.goto(stack.dashboardUrl);
      await page.fill('#signin input[name=apiKey]', stack.apiKey);
      await page.click('#signin button[type=submit]');
      await page.locator('#charts .legend li').first().waitFor({ timeout: 10_000 });
      await page.locator(`.card.band[data-band="cold"] .member >> nth=${COLD_LEADS - 1}`).waitFor({ timeout: 10_000 });
      const shown = await drawn(page);
      await page.locator('#charts').screenshot({ path: join(shots, `segments-charts-${width}.png`) });
      // A seeded lead's page, a prospect's: its identify, the one event it has, named as the
      // snippet's events are.
      await page.click('.card.band[data-band="cold"] .member-link >> text=seed0@initech.io');
      await page.locator('.tl-what >> nth=0').waitFor({ timeout: 10_000 });
      expect(await page.locator('.tl-what').allTextContents()).toContain('Identified');
      // A prospect can be moved on by sales, not recycled (the API refuses it).
      expect(await page.locator('.sales-stage button').allTextContents()).toEqual(['Move']);

      // The quality page's band names keep their words whole, however narrow the screen: the
      // table scrolls in its region rather than cut "warm" into "war" and "m".
      await page.goto(`${stack.dashboardUrl}#quality`);
      await page.locator('#quality-bands tbody tr >> nth=0').waitFor({ timeout: 10_000 });
      const cut = await page.evaluate<string[]>(`(${CUT_WORDS})('#quality-bands tbody tr > :first-child')`);
      expect(cut).toEqual([]);
      expect(await page.evaluate<boolean>(FITS_WIDTH)).toBe(true);

      // A band's members in a table that scrolls sideways on a narrow screen: the page does not.
      await page.goto(`${stack.dashboardUrl}#band/cold`);
      await page.locator('.members-table tbody tr >> nth=0').waitFor({ timeout: 10_000 });
      expect(await page.evaluate<boolean>(FITS_WIDTH)).toBe(true);
      // Nothing the pages asked for was missing (a favicon was, on every page).
      expect(missing).toEqual([]);
      await page.close();

      const names = [...BANDS.map((b) => b.name), 'excluded'];
      expect(Object.keys(shown.lines)).toEqual(names);
      expect(shown.legend.map((l) => l.name)).toEqual(names);
      for (const name of names) {
        // The card's colour, computed: the line, its markers' tone and the legend's swatch share it.
        expect(shown.lines[name]!.stroke, name).toBe(shown.cards[name]);
        expect(shown.legend.find((l) => l.name === name)!.stroke, name).toBe(shown.cards[name]);
      }
      // Five tones for six lines would leave two alike: the three middle bands share one colour
      // and differ by their dashes, their legend's as well.
      const middle = BANDS.slice(1, -1).map((b) => b.name);
      expect(new Set(middle.map((n) => shown.cards[n])).size).toBe(1);
      expect(new Set(middle.map((n) => shown.lines[n]!.dash)).size).toBe(middle.length);
      for (const name of middle) expect(shown.legend.find((l) => l.name === name)!.dash).toBe(shown.lines[name]!.dash);
      expect(new Set(['cold', 'hot', 'excluded'].map((n) => shown.cards[n])).size).toBe(3);

      // Each name readable: no two overlap, and none lies on the plot.
      shown.legend.forEach((a, i) => {
        expect(a.box.right - a.box.left, a.name).toBeGreaterThan(0);
        expect(overlap(a.box, shown.plot), `${a.name} on the plot`).toBe(false);
        for (const b of shown.legend.slice(i + 1)) expect(overlap(a.box, b.box), `${a.name} over ${b.name}`).toBe(false);
      });

      // The histogram's names of the bands: each cut to the room before the next bound, whole in
      // its tooltip, none over another.
      expect(shown.bounds.map((b) => b.title)).toEqual(BANDS.map((b) => b.name));
      shown.bounds.forEach((a, i) => {
        expect(a.shown === a.title || (a.shown.endsWith('…') && a.title.startsWith(a.shown.slice(0, -1))) || a.shown === '', a.shown).toBe(true);
        for (const b of shown.bounds.slice(i + 1)) expect(overlap(a.box, b.box), `${a.shown} over ${b.shown}`).toBe(false);
      });
      // Cut in the chart's own units, which scale with it: the same names at any width.
      expect(shown.bounds.filter((b) => b.shown === b.title).map((b) => b.shown)).toEqual(['cold', 'warm', 'hot']);

      // The page ends where its content does, whether the first band's list scrolls (side by side)
      // or shows every member (one card a row).
      expect(shown.coldList.members).toBe(COLD_LEADS);
      if (width > 1000) expect(shown.coldList.content).toBeGreaterThan(shown.coldList.height);
      expect(shown.page.height).toBeLessThanOrEqual(Math.ceil(shown.page.content) + 32);

      // A new site has one day of history: its date once, under its points.
      expect(shown.days).toEqual([{ text: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/), anchor: 'middle' }]);
    });
  }
});
