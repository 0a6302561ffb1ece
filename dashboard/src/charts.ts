/**
 * @module The segments' two charts, as SVG built through `dom.s`: the score histogram with the band
 * boundaries drawn on it, and the leads per band over the last 30 days. Each has a text alternative
 * (a title, and a summary read by screen readers) since a chart alone says nothing to them.
 */
import { EXCLUDED, type SegmentStats } from './api';
import { h, s } from './dom';
import { timeEl } from './format';
import { toneFor, type Tone } from './tones';

const W = 600;
const H = 180;
const PAD = { left: 36, right: 8, top: 12, bottom: 26 };
const plotW = W - PAD.left - PAD.right;
const plotH = H - PAD.top - PAD.bottom;

/** Round steps for an axis of `max`: 1, 2, 5, 10, 20, 50… */
function niceMax(max: number): number {
  if (max <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 5, 10].map((m) => m * p).find((v) => v >= max) ?? 10 * p;
}

function frame(label: string, summary: string, note: (Node | string)[], legend: HTMLElement | null, ...children: (SVGElement | null)[]): HTMLElement {
  return h(
    'figure',
    { class: 'chart' },
    h('figcaption', null, label, note.length ? h('span', { class: 'muted' }, ' · ', ...note) : null),
    legend,
    s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${label}. ${summary}`, preserveAspectRatio: 'xMidYMid meet' }, s('title', null, label), ...children),
  );
}

function yAxis(max: number): SVGElement {
  return s(
    'g',
    { class: 'axis' },
    (Number.isInteger(max / 2) ? [0, max / 2, max] : [0, max]).map((v) => {
      const y = PAD.top + plotH - (v / max) * plotH;
      return s('g', null, s('line', { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: 'grid' }), s('text', { x: PAD.left - 4, y, 'text-anchor': 'end', 'dominant-baseline': 'middle' }, String(v)));
    }),
  );
}

/** A character of a band's name on the histogram (11 px, bold), in the chart's units: as wide as DejaVu Sans Bold's, among the widest. */
const NAME_CHAR = 7.5;

/** `name`, or as much of it as `room` holds followed by an ellipsis (nothing when not even that fits). */
function fitted(name: string, room: number): string {
  const chars = Math.floor(room / NAME_CHAR);
  if (name.length <= chars) return name;
  return chars < 2 ? '' : `${name.slice(0, chars - 1)}…`;
}

export function histogramChart(stats: SegmentStats): HTMLElement {
  const bars = stats.histogram;
  const firstBound = Math.min(0, ...bars.map((b) => b.min), ...stats.bounds.map((b) => b.min));
  const lastBound = Math.max(100, ...bars.map((b) => b.min + stats.bucket), ...stats.bounds.map((b) => b.min + stats.bucket));
  const x = (score: number) => PAD.left + ((score - firstBound) / (lastBound - firstBound)) * plotW;
  const max = niceMax(Math.max(0, ...bars.map((b) => b.count)));
  const y = (n: number) => PAD.top + plotH - (n / max) * plotH;
  const total = bars.reduce((n, b) => n + b.count, 0);
  const summary = total
    ? `${total} leads in bands; the most, ${Math.max(...bars.map((b) => b.count))}, score between ${bars.reduce((a, b) => (b.count > a.count ? b : a)).min} and ${bars.reduce((a, b) => (b.count > a.count ? b : a)).min + stats.bucket}.`
    : 'No lead in a band yet.';
  const bands = `Bands: ${stats.bounds.map((b, i) => (i === 0 ? b.band : `${b.band} from ${b.min}`)).join(', ')}.`;
  // Recounted from the leads every few seconds, not at each score change: the time says how fresh.
  return frame(
    'Score distribution',
    `${summary} ${bands}`,
    ['counted at ', timeEl(stats.countedAt, 'clock')],
    null,
    yAxis(max),
    s(
      'g',
      { class: 'bars' },
      bars.map((b) =>
        s('rect', { x: x(b.min) + 0.5, y: y(b.count), width: Math.max(1, x(b.min + stats.bucket) - x(b.min) - 1), height: PAD.top + plotH - y(b.count), class: 'bar' }, s('title', null, `${b.min}–${b.min + stats.bucket}: ${b.count}`)),
      ),
    ),
    s(
      'g',
      { class: 'bounds' },
      stats.bounds.map((b, i) =>
        s(
          'g',
          { class: 'bound', 'data-band': b.band },
          i === 0 ? null : s('line', { x1: x(b.min), x2: x(b.min), y1: PAD.top, y2: PAD.top + plotH }),
          // Cut to the room before the next bound, the whole name in the tooltip and the summary.
          s('g', { class: 'name' }, s('title', null, b.band), s('text', { x: x(b.min) + 4, y: PAD.top + 10 }, fitted(b.band, (i + 1 < stats.bounds.length ? x(stats.bounds[i + 1]!.min) : W - PAD.right) - x(b.min) - 8))),
          s('text', { x: x(b.min), y: H - 8, 'text-anchor': 'middle', class: 'tick' }, String(b.min)),
        ),
      ),
    ),
  );
}

/** A line of the history chart: a band, or the excluded leads. */
interface Series {
  name: string;
  tone: Tone;
  /** Lines of one tone (the bands between the first and the last) are told apart by their dashes. */
  dash: number;
}

/** Solid, dashed, dotted: see the chart's CSS. */
const DASHES = 3;

/** The bands in score order, coloured as their cards are, then the excluded leads. */
function seriesOf(stats: SegmentStats): Series[] {
  const names = stats.bounds.map((b) => b.band);
  const tones: [string, Tone][] = [...names.map((name, i): [string, Tone] => [name, toneFor(i, names.length)]), [EXCLUDED, 'excluded']];
  const used = new Map<Tone, number>();
  return tones.map(([name, tone]) => {
    const dash = used.get(tone) ?? 0;
    used.set(tone, dash + 1);
    return { name, tone, dash: dash % DASHES };
  });
}

/**
 * The lines' names, in HTML above the plot: it wraps on a narrow screen, and no line can run
 * through it, as one did through a legend drawn inside the plot.
 */
function legend(series: readonly Series[]): HTMLElement {
  return h(
    'ul',
    { class: 'legend' },
    series.map(({ name, tone, dash }) =>
      h('li', { 'data-tone': tone, 'data-dash': dash }, s('svg', { viewBox: '0 0 24 8', class: 'swatch', 'aria-hidden': 'true', focusable: 'false' }, s('line', { x1: 0, y1: 4, x2: 24, y2: 4 })), name),
    ),
  );
}

export function historyChart(stats: SegmentStats): HTMLElement {
  const days = stats.history;
  const series = seriesOf(stats);
  const max = niceMax(Math.max(0, ...days.flatMap((d) => Object.values(d.bands))));
  const x = (i: number) => PAD.left + (days.length <= 1 ? plotW / 2 : (i / (days.length - 1)) * plotW);
  const y = (n: number) => PAD.top + plotH - (n / max) * plotH;
  const last = days[days.length - 1];
  const summary = last ? `On ${last.day}: ${series.map(({ name }) => `${name} ${last.bands[name] ?? 0}`).join(', ')}; ${days.length} days shown.` : 'No day recorded yet.';
  const day = (i: number, anchor: string) => s('text', { x: x(i), y: H - 8, 'text-anchor': anchor }, days[i]!.day);
  return frame(
    'Leads per band, last 30 days',
    summary,
    [],
    legend(series),
    yAxis(max),
    s(
      'g',
      { class: 'series' },
      series.map(({ name, tone, dash }) =>
        s(
          'g',
          { class: 'serie', 'data-series': name, 'data-tone': tone, 'data-dash': dash },
          s('polyline', { points: days.map((d, i) => `${x(i)},${y(d.bands[name] ?? 0)}`).join(' ') }),
          days.map((d, i) => s('rect', { x: x(i) - 2, y: y(d.bands[name] ?? 0) - 2, width: 4, height: 4 }, s('title', null, `${d.day} · ${name}: ${d.bands[name] ?? 0}`))),
        ),
      ),
    ),
    // The first and last days at the ends; a single day once, under its points.
    s('g', { class: 'axis' }, days.length === 1 ? day(0, 'middle') : days.length ? [day(0, 'start'), day(days.length - 1, 'end')] : null),
  );
}
