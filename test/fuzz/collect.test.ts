/**
 * Fuzzing `POST /v1/collect`, the one route anyone on the internet can reach with what any page
 * shows (the site key): batches broken at every level, bodies that are not batches, every header a
 * browser or a script may send wrong. No answer is a 5xx, every refusal is the JSON error, nothing
 * refused writes, and what is accepted is stored as sent.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { newSite, ORIGIN, type TestSite } from '../worker/helpers';
import { batch, brokenBody, checkStored, withUniqueIds } from './batches';
import { fuzz, Referee, type Exchange, type FuzzRequest } from './harness';
import { encodePart, headerValue, hostileString } from './hostile';

/** Sequences of requests, and requests in each: 4,650 a run, asserted (with api.test.ts's, 10,350). */
const RUNS = 155;
const PER_RUN = 30;
const MIN_REQUESTS = RUNS * PER_RUN;

const BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36';

interface Shape {
  body: { kind: 'batch'; value: unknown; broken: boolean } | { kind: 'raw'; value: string | Uint8Array };
  sender: { site: 'own' | 'other' | 'unknown' | 'malformed'; origin: 'own' | 'other' | 'none' | 'null' | 'near' | 'hostile' };
  hostileOrigin: string;
  contentType: string | null;
  userAgent: string | null;
  path: string;
  method: string;
}

describe('fuzz: POST /v1/collect', () => {
  const referee = new Referee();
  let own: TestSite;
  let other: TestSite;
  beforeAll(async () => {
    own = await newSite([ORIGIN, 'http://localhost:8788']);
    other = await newSite(['https://other.example']);
    await referee.install();
  });

  const siteKey = (s: Shape['sender']['site']) =>
    ({ own: own.siteKey, other: other.siteKey, unknown: 'pk_0123456789abcdefghijklmn', malformed: "pk_' OR 1=1 --" })[s];

  const shape: () => fc.Arbitrary<Shape> = () =>
    fc.record({
      body: fc.oneof(
        { weight: 3, arbitrary: batch('@site', 'browser').map((b) => ({ kind: 'batch' as const, ...b })) },
        { weight: 1, arbitrary: brokenBody('@site').map((value) => ({ kind: 'raw' as const, value })) },
      ),
      // Mostly a site's key from its own origin, so that the body is read: every other pair is refused.
      sender: fc.oneof(
        { weight: 6, arbitrary: fc.constant({ site: 'own' as const, origin: 'own' as const }) },
        { weight: 1, arbitrary: fc.constant({ site: 'other' as const, origin: 'other' as const }) },
        { weight: 4, arbitrary: fc.record({ site: fc.constantFrom('own', 'other', 'unknown', 'malformed'), origin: fc.constantFrom('own', 'other', 'none', 'null', 'near', 'hostile') }) },
      ),
      hostileOrigin: headerValue,
      contentType: fc.constantFrom('text/plain;charset=UTF-8', 'text/plain;charset=UTF-8', 'application/json', null, 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'text/html; charset=latin1', "'; --"),
      userAgent: fc.oneof(fc.constantFrom(BROWSER_UA, BROWSER_UA, BROWSER_UA, 'curl/8.5.0', 'Googlebot/2.1', null), headerValue),
      path: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('/v1/collect', '/p/e') }, { weight: 1, arbitrary: hostileString.map((s) => `/v1/collect?${encodePart(s)}=${encodePart(s)}`) }),
      method: fc.oneof({ weight: 20, arbitrary: fc.constant('POST') }, { weight: 1, arbitrary: fc.constantFrom('OPTIONS', 'GET', 'PUT', 'DELETE') }),
    });

  function request(s: Shape): Exchange {
    const { site, origin: from } = s.sender;
    const key = siteKey(site);
    const origin = { own: ORIGIN, other: 'https://other.example', none: undefined, null: 'null', near: `${ORIGIN}/`, hostile: s.hostileOrigin }[from];
    let body: string | Uint8Array | undefined;
    let fresh: string[] = [];
    if (s.body.kind === 'batch') {
      ({ text: body, ids: fresh } = withUniqueIds(JSON.stringify(s.body.value) ?? ''));
      body = body.replaceAll('"@site"', JSON.stringify(key));
    } else {
      body = typeof s.body.value === 'string' ? s.body.value.replaceAll('"@site"', JSON.stringify(key)) : s.body.value;
    }
    const headers: Record<string, string> = {};
    if (origin !== undefined) headers.origin = origin;
    if (s.contentType !== null) headers['content-type'] = s.contentType;
    if (s.userAgent !== null) headers['user-agent'] = s.userAgent;
    // A site's key from one of its own origins is the only way in.
    const welcome = (site === 'own' || site === 'other') && from === site && s.body.kind === 'batch';
    const req: FuzzRequest = { method: s.method, path: s.path, headers, body: s.method === 'GET' ? undefined : body, mustReject: s.method !== 'OPTIONS' && !welcome };
    return {
      req,
      accepted: async (a) => {
        if (req.method === 'POST') await checkStored((site === 'own' ? own : other).id, body as string, a.text, fresh);
      },
    };
  }

  it(`answers ${MIN_REQUESTS}+ hostile requests with no 5xx, JSON refusals, no write on refusal, and stores what it accepts as sent`, { timeout: 300_000 }, async () => {
    await fuzz(referee, fc.array(shape(), { minLength: PER_RUN, maxLength: PER_RUN }), RUNS, request);
    console.log(`collect fuzz: ${referee.summary()}`);
    expect(referee.requests).toBeGreaterThanOrEqual(MIN_REQUESTS);
  });
});
