/**
 * Collect traffic as the demo site's visitors make it, for the load bench and the fault test.
 *
 * A small keep-alive generator on `node:http` rather than autocannon: every request belongs to one
 * visitor's journey (its own visitor id, IP, user agent and the page it is on), a failed batch is
 * sent again with the visitor's next one as the snippet does, and every 202 answer is read for the
 * ids it acknowledges. Autocannon's fixed request lists would need all of that in its callbacks,
 * and its counts would not be the ones that matter here.
 */
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';

const BROWSERS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
];
/** The demo site's pages and how often a visitor goes to each next. */
const PAGES = [
  { path: '/', title: 'Acme Analytics', weight: 15 },
  { path: '/blog/why-lead-scoring', title: 'Why lead scoring', weight: 20 },
  { path: '/pricing', title: 'Pricing', weight: 25 },
  { path: '/references', title: 'References', weight: 20 },
  { path: '/contact', title: 'Request a demo', weight: 20 },
];
const TOTAL_WEIGHT = PAGES.reduce((n, p) => n + p.weight, 0);
const JOBS = ['Head of Marketing', 'Marketing manager', 'Software engineer', 'VP Sales', 'Student', 'Chief Executive Officer'];
const INDUSTRIES = ['Software', 'Consulting', 'Retail', 'Education', 'Other'];
const SIZES = ['1-9', '10-49', '50-199', '200-999', '1000+'];
/** A visitor on the contact page sends the form this often: about a third of visitors identify. */
const SUBMIT_RATE = 0.4;

/** As the snippet makes them: about 128 random bits. */
const rid = () => randomBytes(16).toString('base64url');

/**
 * `count` visitors. Each has its own address in 198.18.0.0/15 (the range set aside for benchmarks):
 * `wrangler dev` sets CF-Connecting-IP from the socket only when the request has none. One in twenty
 * shares its e-mail with another visitor, a person on a second device: two visitors, one lead.
 */
export function makeVisitors(count, { origin, tag = rid().slice(0, 6) }) {
  return Array.from({ length: count }, (_, i) => {
    const person = i % 20 === 19 ? i - 1 : i;
    // Some leads are excluded by the default model: students and free e-mail domains.
    const domain = person % 11 === 5 ? 'gmail.com' : `company${person % 97}.example`;
    return {
      id: `${tag}-${i}-${rid().slice(0, 8)}`,
      ip: `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
      userAgent: BROWSERS[i % BROWSERS.length],
      origin,
      email: `person${person}.${tag}@${domain}`,
      job: JOBS[person % JOBS.length],
      page: null,
      /** Batches left in the current visit. */
      left: 0,
      /** Events sent and not yet acknowledged: they go again with the next batch. */
      pending: [],
      identified: false,
    };
  });
}

function pickPage() {
  let r = Math.random() * TOTAL_WEIGHT;
  for (const p of PAGES) if ((r -= p.weight) < 0) return p;
  return PAGES[0];
}

/**
 * The visitor's next batch as the snippet would send it: mostly the page view of the next page,
 * sometimes with a white paper downloaded on it, or the demo-request form sent from the contact
 * page; earlier events that got no answer go first.
 */
function nextEvents(v) {
  const ts = Date.now();
  const referrer = v.page ? `${v.origin}${v.page.path}` : undefined;
  const onContact = v.page?.path === '/contact';
  if (onContact && !v.identified && Math.random() < SUBMIT_RATE) {
    v.identified = true;
    const [first, last] = v.email.split('@')[0].split('.');
    return [
      {
        id: rid(),
        type: 'form_submit',
        ts,
        visitor: v.id,
        url: `${v.origin}/contact`,
        title: 'Request a demo',
        contentType: 'demo_request',
        fields: {
          content_type: 'demo_request',
          email: v.email,
          first_name: first,
          last_name: last,
          job_title: v.job,
          company: v.email.split('@')[1].split('.')[0],
          company_size: SIZES[v.email.length % SIZES.length],
          industry: INDUSTRIES[v.email.length % INDUSTRIES.length],
        },
        props: { form: 'demo-request' },
      },
    ];
  }
  v.page = pickPage();
  const events = [{ id: rid(), type: 'page_view', ts, visitor: v.id, url: `${v.origin}${v.page.path}`, title: v.page.title, referrer }];
  if (Math.random() < 0.1) {
    events.push({
      id: rid(),
      type: 'download',
      ts: ts + 1,
      visitor: v.id,
      url: `${v.origin}/files/white-paper.pdf`,
      title: 'Download the white paper: measuring B2B marketing (PDF)',
      contentType: 'white_paper',
    });
  }
  return events;
}

const headersOf = (v) => ({
  'content-type': 'text/plain;charset=UTF-8',
  origin: v.origin,
  'user-agent': v.userAgent,
  'cf-connecting-ip': v.ip,
  accept: '*/*',
});

/** One POST over a kept-alive connection: the status, the parsed body (if JSON) and the time it took. */
export function post(agent, url, headers, body) {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try {
          json = JSON.parse(text);
        } catch {
          // not JSON: counted by its status, its start kept as a sample
        }
        resolve({ status: res.statusCode, json, text: json ? undefined : text.slice(0, 200), ms: performance.now() - t0 });
      });
      res.on('error', (err) => resolve({ status: 0, error: err.code ?? err.message, ms: performance.now() - t0 }));
    });
    req.on('error', (err) => resolve({ status: 0, error: err.code ?? err.message, ms: performance.now() - t0 }));
    req.end(body);
  });
}

/**
 * Sends the visitors' journeys to `url` with `concurrency` requests in flight, one per visitor at a
 * time as a browser tab sends them, `browsing` visitors on the site at once. A visit is 3 to 10
 * batches; then the visitor leaves, comes back after all the others, and the next one starts a
 * visit. Counts what came back; `acked` holds every event id a 202 answer listed as accepted or
 * duplicate.
 */
export function startTraffic({ url, siteKey, visitors, concurrency = 8, browsing: atOnce = 200, retryDelayMs = 200 }) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
  const away = [...visitors];
  const browsing = away.splice(0, atOnce);
  for (const v of browsing) v.left = 3 + Math.floor(Math.random() * 8);
  /** Visitors that sent at least one batch. */
  const seen = new Set();
  const acked = new Set();
  const sentIds = new Set();
  /** Per window (see `window()`): latencies of answered requests, and counts. */
  let win = newWindow();
  let target = 0;
  let stopping = false;
  const loops = [];

  function newWindow() {
    return { start: performance.now(), latencies: [], requests: 0, ok: 0, accepted: 0, duplicates: 0, rejected: 0, statuses: {}, failures: {} };
  }

  async function sendOne(v) {
    // At most 100 events a request, as the snippet sends them; the rest wait for the next one.
    const events = v.pending.length >= 100 ? v.pending.slice(0, 100) : [...v.pending, ...nextEvents(v)];
    v.pending = v.pending.slice(events.length);
    for (const e of events) sentIds.add(e.id);
    const res = await post(agent, url, headersOf(v), JSON.stringify({ site: siteKey, events }));
    const w = win;
    w.requests++;
    if (res.status === 202 && res.json) {
      w.ok++;
      w.latencies.push(res.ms);
      w.accepted += res.json.accepted.length;
      w.duplicates += res.json.duplicates.length;
      w.rejected += res.json.rejected.length;
      for (const id of res.json.accepted) acked.add(id);
      for (const id of res.json.duplicates) acked.add(id);
      return true;
    }
    const key = res.status ? `${res.status} ${res.json?.error?.code ?? JSON.stringify(res.text)}` : res.error;
    if (res.status) {
      w.latencies.push(res.ms);
      w.statuses[key] = (w.statuses[key] ?? 0) + 1;
    } else {
      w.failures[key] = (w.failures[key] ?? 0) + 1;
    }
    // The snippet keeps what a 5xx, a 429 or the network lost, and sends it again; other 4xx are final.
    if (!res.status || res.status >= 500 || res.status === 429) v.pending = [...events, ...v.pending];
    return false;
  }

  // A loop above the target waits rather than ends, so that raising the target again is simple.
  async function loop(index) {
    while (!stopping) {
      const v = index < target ? browsing.shift() : undefined;
      if (!v) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      seen.add(v.id);
      const ok = await sendOne(v);
      // A visitor with events still unanswered stays, as the snippet's retry store would.
      if (--v.left > 0 || v.pending.length || away.length === 0) browsing.push(v);
      else {
        v.page = null;
        away.push(v);
        const next = away.shift();
        next.left = 3 + Math.floor(Math.random() * 8);
        browsing.push(next);
      }
      if (!ok) await new Promise((r) => setTimeout(r, retryDelayMs));
    }
  }

  function setConcurrency(n) {
    target = n;
    for (let i = loops.length; i < n; i++) loops.push(loop(i));
  }
  setConcurrency(concurrency);

  return {
    acked,
    /** Every event id sent at least once. */
    sentIds,
    visitors,
    /** How many visitors sent at least one batch. */
    distinctVisitors: () => seen.size,
    get concurrency() {
      return target;
    },
    setConcurrency,
    /** The counts since the last call, and a new window. */
    window() {
      const w = win;
      win = newWindow();
      return summarise(w, performance.now());
    },
    /** Stops sending new batches and waits for those in flight. */
    async stop() {
      stopping = true;
      await Promise.all(loops);
    },
    /**
     * Sends every visitor's unacknowledged events again, alone (no new events), until none is left
     * or the deadline passes; answers how many are still unacknowledged.
     */
    async drain(deadline) {
      stopping = true;
      await Promise.all(loops);
      for (;;) {
        const waiting = visitors.filter((v) => v.pending.length);
        if (waiting.length === 0 || performance.now() > deadline) return waiting.reduce((n, v) => n + v.pending.length, 0);
        await Promise.all(
          waiting.map(async (v) => {
            const events = v.pending.slice(0, 100);
            v.pending = v.pending.slice(events.length);
            const res = await post(agent, url, headersOf(v), JSON.stringify({ site: siteKey, events }));
            if (res.status === 202 && res.json) for (const id of [...res.json.accepted, ...res.json.duplicates]) acked.add(id);
            else v.pending = [...events, ...v.pending];
          }),
        );
        await new Promise((r) => setTimeout(r, retryDelayMs));
      }
    },
    close() {
      agent.destroy();
    },
  };
}

/** Percentile of sorted values, nearest rank. */
export const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN);

function summarise(w, end) {
  const seconds = (end - w.start) / 1000;
  const sorted = w.latencies.sort((a, b) => a - b);
  const errors = w.requests - w.ok;
  return {
    seconds,
    requests: w.requests,
    ok: w.ok,
    errors,
    accepted: w.accepted,
    duplicates: w.duplicates,
    rejected: w.rejected,
    rps: w.ok / seconds,
    eventsPerSecond: w.accepted / seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    latencies: sorted,
    statuses: w.statuses,
    failures: w.failures,
  };
}
