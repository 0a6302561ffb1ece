/**
 * The dashboard's session: sign-in with a key, the cookie, CSRF proof on every write, sign-out.
 * (`headers.getAll('set-cookie')` is workerd's way to read each Set-Cookie apart.)
 */
import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { newSession, openSession, sealSession, SESSION_TTL_SECONDS } from '../../worker/auth/session';
import { sessionKey } from '../../worker/auth/session-secret';
import { api, browserEvent, call, collect, newSite, proxiedD1, type TestSite } from './helpers';

const SELF = 'https://leadscore.test';
const COOKIE = '__Host-leadscore_session';

interface SignedIn {
  /** `name=value`, as the browser sends it back. */
  cookie: string;
  csrfToken: string;
  setCookie: string;
  body: { site: { id: string; name: string }; csrfToken: string; expiresAt: number };
}

function signInRequest(apiKey: string, headers: Record<string, string> = {}) {
  return call('/dashboard/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: SELF, ...headers },
    body: JSON.stringify({ apiKey }),
  });
}

async function signIn(site: TestSite): Promise<SignedIn> {
  const res = await signInRequest(site.apiKey);
  expect(res.status).toBe(200);
  const setCookie = res.headers.getAll('set-cookie');
  expect(setCookie).toHaveLength(1);
  const body = (await res.json()) as SignedIn['body'];
  return { cookie: setCookie[0]!.split(';')[0]!, csrfToken: body.csrfToken, setCookie: setCookie[0]!, body };
}

/** A request as the dashboard page makes it: the cookie, our origin, and the token when given. */
function withSession(s: SignedIn, path: string, init: RequestInit & { token?: string | null; origin?: string | null } = {}) {
  const { token = s.csrfToken, origin = SELF, ...rest } = init;
  return call(path, {
    ...rest,
    headers: {
      cookie: s.cookie,
      'content-type': 'application/json',
      ...(token !== null ? { 'x-csrf-token': token } : {}),
      ...(origin !== null ? { origin } : {}),
      ...(rest.headers as Record<string, string> | undefined),
    },
  });
}

const errorCode = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

/** A site with one lead, to change through the API. */
async function siteWithLead() {
  const site = await newSite();
  await collect({ site: site.siteKey, events: [browserEvent('v1', 'identify', { traits: { email: 'ada@acme.io' } })] });
  const { leads } = (await (await api(site, '/v1/leads')).json()) as { leads: { id: string; stage: string }[] };
  expect(leads).toHaveLength(1);
  return { site, leadId: leads[0]!.id };
}

const stageOf = async (site: TestSite, id: string) => ((await (await api(site, `/v1/leads/${id}`)).json()) as { stage: string }).stage;

describe('signing in to the dashboard', () => {
  it('answers the site and a CSRF token, and sets an HttpOnly, SameSite=Strict, host-only cookie for 12 hours', async () => {
    const site = await newSite();
    const s = await signIn(site);
    expect(s.body).toEqual({ site: { id: site.id, name: site.id }, csrfToken: expect.stringMatching(/^[\w-]{43}$/), expiresAt: expect.any(Number) });
    expect(s.body.expiresAt).toBeGreaterThan(Date.now() + (SESSION_TTL_SECONDS - 60) * 1000);
    const attributes = s.setCookie.split(/;\s*/).slice(1);
    expect(s.setCookie.startsWith(`${COOKIE}=`)).toBe(true);
    expect(attributes).toEqual(expect.arrayContaining(['HttpOnly', 'SameSite=Strict', 'Path=/', 'Secure', `Max-Age=${SESSION_TTL_SECONDS}`]));
    expect(attributes.some((a) => /^domain=/i.test(a))).toBe(false);
    // The value names the key by id, never the key itself.
    expect(s.cookie).not.toContain(site.apiKey);
    expect(s.cookie).not.toContain(s.csrfToken);
  });

  it('over plain http (wrangler dev on localhost), sets the cookie without Secure nor the __Host- prefix', async () => {
    const site = await newSite();
    const res = await exports.default.fetch(
      new Request('http://localhost:8787/dashboard/session', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ apiKey: site.apiKey }),
      }),
    );
    expect(res.status).toBe(200);
    const [setCookie] = res.headers.getAll('set-cookie');
    expect(setCookie).toMatch(/^leadscore_session=[^;]+; Max-Age=43200; Path=\/; HttpOnly; SameSite=Strict$/);
    const cookie = setCookie!.split(';')[0]!;
    const bands = await exports.default.fetch(new Request('http://localhost:8787/v1/bands', { headers: { cookie } }));
    expect(bands.status).toBe(200);
  });

  it('refuses a wrong, malformed or site key, a non-JSON body and a foreign origin, setting no cookie', async () => {
    const site = await newSite();
    const cases: [Response, number, string][] = [
      [await signInRequest('sk_0000000000000000000000000000000'), 401, 'unauthorized'],
      [await signInRequest(site.siteKey), 400, 'invalid_request'],
      [await signInRequest('hello'), 400, 'invalid_request'],
      [await call('/dashboard/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"key": "x"}' }), 400, 'invalid_request'],
      [await signInRequest(site.apiKey, { 'content-type': 'text/plain' }), 415, 'unsupported_media_type'],
      [await signInRequest(site.apiKey, { origin: 'https://evil.example' }), 403, 'csrf'],
    ];
    for (const [res, status, code] of cases) {
      expect(res.status).toBe(status);
      expect(res.headers.getAll('set-cookie')).toEqual([]);
      expect(await errorCode(res)).toBe(code);
    }
    const pk = (await (await signInRequest(site.siteKey)).json()) as { error: { issues: { path: string[]; message: string }[] } };
    expect(pk.error.issues).toEqual([{ path: ['apiKey'], message: expect.stringContaining('site key') }]);
  });

  it('GET /dashboard/session answers who is signed in and the same CSRF token, or 401', async () => {
    const site = await newSite();
    const s = await signIn(site);
    const res = await withSession(s, '/dashboard/session', { token: null });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual(s.body);
    expect((await call('/dashboard/session')).status).toBe(401);
  });
});

describe('the /v1 API with the session cookie', () => {
  it('reads with the cookie alone', async () => {
    const site = await newSite();
    const s = await signIn(site);
    const res = await call('/v1/bands', { headers: { cookie: s.cookie } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { bands: unknown[] }).bands).toHaveLength(3);
  });

  it('refuses a tampered, foreign-signed or expired cookie with a 401, and GET /dashboard/session clears it', async () => {
    const site = await newSite();
    const s = await signIn(site);
    const [name, value] = [s.cookie.slice(0, s.cookie.indexOf('=')), s.cookie.slice(s.cookie.indexOf('=') + 1)];
    const [keyId, expiresAt, mac] = value.split('.') as [string, string, string];
    const key = await sessionKey(env);
    const expired = await sealSession(key, { keyId, expiresAt: Date.now() - 1000 });
    const otherKey = await crypto.subtle.importKey('raw', new Uint8Array(32), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const cookies = [
      `${keyId}.${Number(expiresAt) + 86_400_000}.${mac}`, // a longer life, same signature
      `key_someoneelse00000.${expiresAt}.${mac}`, // another key, same signature
      // A character of the signature changed, mid-way: the last one's low bits are padding that a
      // decoder may drop, so changing it could leave the signature as it was.
      `${keyId}.${expiresAt}.${mac.slice(0, 10)}${mac[10] === 'A' ? 'B' : 'A'}${mac.slice(11)}`,
      await sealSession(otherKey, newSession(keyId, Date.now())),
      expired,
      'garbage',
    ];
    for (const v of cookies) {
      const res = await call('/v1/bands', { headers: { cookie: `${name}=${v}` } });
      expect(res.status, v).toBe(401);
      expect(await errorCode(res)).toBe('unauthorized');
    }
    const gone = await call('/dashboard/session', { headers: { cookie: `${name}=${expired}` } });
    expect(gone.status).toBe(401);
    expect(((await gone.json()) as { error: { message: string } }).error.message).toContain('expired');
    expect(gone.headers.getAll('set-cookie')).toEqual([expect.stringMatching(new RegExp(`^${COOKIE}=; Max-Age=0; Path=/`))]);
  });

  it('ends the sessions of a revoked key at once', async () => {
    const site = await newSite();
    const s = await signIn(site);
    expect((await withSession(s, '/v1/bands')).status).toBe(200);
    await env.DB.prepare('UPDATE api_keys SET revoked_at = ? WHERE site_id = ?').bind(Date.now(), site.id).run();
    for (const path of ['/v1/bands', '/dashboard/session']) {
      const res = await withSession(s, path);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { message: string } }).error.message).toContain('revoked');
    }
  });

  it('refuses PATCH, PUT, POST and DELETE without the CSRF token or with a wrong one (403), and changes nothing', async () => {
    const { site, leadId } = await siteWithLead();
    const s = await signIn(site);
    const other = await signIn(await newSite());
    const hook = (await (await api(site, '/v1/webhooks', { method: 'POST', body: JSON.stringify({ url: 'https://hooks.example/x', types: ['lead.band_changed'] }) })).json()) as {
      webhook: { id: string };
    };
    const model = (await (await api(site, '/v1/model')).json()) as { model: unknown; version: number };
    const writes: [string, string, unknown][] = [
      ['PATCH', `/v1/leads/${leadId}`, { stage: 'sql' }],
      ['PUT', '/v1/model', model.model],
      ['POST', '/v1/webhooks', { url: 'https://hooks.example/y', types: ['lead.stage_changed'] }],
      ['DELETE', `/v1/webhooks/${hook.webhook.id}`, undefined],
    ];
    for (const token of [null, '', 'nope', other.csrfToken, s.csrfToken.slice(0, -1) + (s.csrfToken.endsWith('A') ? 'B' : 'A')]) {
      for (const [method, path, body] of writes) {
        const res = await withSession(s, path, { method, token, body: body === undefined ? undefined : JSON.stringify(body) });
        expect(res.status, `${method} ${path} with ${token}`).toBe(403);
        expect(await errorCode(res)).toBe('csrf');
      }
    }
    expect(await stageOf(site, leadId)).toBe('prospect');
    expect(((await (await api(site, '/v1/model')).json()) as { version: number }).version).toBe(model.version);
    const hooks = (await (await api(site, '/v1/webhooks')).json()) as { webhooks: { id: string }[] };
    expect(hooks.webhooks.map((w) => w.id)).toEqual([hook.webhook.id]);
  });

  it('takes a CSRF token in its one canonical spelling only, not the same bytes spelled otherwise', async () => {
    const { site, leadId } = await siteWithLead();
    const s = await signIn(site);
    // The last of 43 base64url characters carries 4 bits and 2 bits a decoder ignores.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(s.csrfToken.at(-1)!);
    expect(last % 4).toBe(0);
    for (const k of [1, 2, 3]) {
      const token = s.csrfToken.slice(0, -1) + alphabet[last + k];
      const res = await withSession(s, `/v1/leads/${leadId}`, { method: 'PATCH', token, body: JSON.stringify({ stage: 'sql' }) });
      expect(res.status, token).toBe(403);
    }
    expect(await stageOf(site, leadId)).toBe('prospect');
  });

  it('refuses a write from a foreign origin even with the right token', async () => {
    const { site, leadId } = await siteWithLead();
    const s = await signIn(site);
    for (const origin of ['https://evil.example', 'null', 'http://leadscore.test']) {
      const res = await withSession(s, `/v1/leads/${leadId}`, { method: 'PATCH', origin, body: JSON.stringify({ stage: 'sql' }) });
      expect(res.status).toBe(403);
      expect(await errorCode(res)).toBe('csrf');
    }
    expect(await stageOf(site, leadId)).toBe('prospect');
  });

  it('accepts writes with the right token, from our origin or with no Origin header', async () => {
    const { site, leadId } = await siteWithLead();
    const s = await signIn(site);
    const patched = await withSession(s, `/v1/leads/${leadId}`, { method: 'PATCH', body: JSON.stringify({ stage: 'sql' }) });
    expect(patched.status).toBe(200);
    expect(((await patched.json()) as { stage: string }).stage).toBe('sql');
    const noOrigin = await withSession(s, `/v1/leads/${leadId}`, { method: 'PATCH', origin: null, body: JSON.stringify({ stage: 'opportunity' }) });
    expect(noOrigin.status).toBe(200);
    expect(await stageOf(site, leadId)).toBe('opportunity');

    const created = await withSession(s, '/v1/webhooks', { method: 'POST', body: JSON.stringify({ url: 'https://hooks.example/z', types: ['lead.stage_changed'] }) });
    expect(created.status).toBe(201);
    const { webhook } = (await created.json()) as { webhook: { id: string } };
    expect((await withSession(s, `/v1/webhooks/${webhook.id}`, { method: 'DELETE' })).status).toBe(204);

    const model = (await (await withSession(s, '/v1/model')).json()) as { model: unknown; version: number };
    const saved = await withSession(s, '/v1/model', { method: 'PUT', body: JSON.stringify(model.model) });
    expect(saved.status).toBe(201);
    // Who saved it: the key the session acts with.
    const versions = (await (await withSession(s, '/v1/model/versions')).json()) as { versions: { createdBy: string | null }[] };
    expect(versions.versions[0]?.createdBy).toMatch(/^key_/);
  });

  it('Bearer needs no CSRF token, and wins over a cookie', async () => {
    const { site, leadId } = await siteWithLead();
    const patched = await api(site, `/v1/leads/${leadId}`, { method: 'PATCH', headers: { origin: 'https://tools.example' }, body: JSON.stringify({ stage: 'sql' }) });
    expect(patched.status).toBe(200);

    const s = await signIn(site);
    const wrongBearer = await withSession(s, '/v1/bands', { headers: { authorization: 'Bearer sk_0000000000000000000000000000000' } });
    expect(wrongBearer.status).toBe(401);
    // Another site's key with this site's cookie: the key decides which site answers.
    const other = await newSite();
    const asOther = await call('/v1/leads', { headers: { cookie: s.cookie, authorization: `Bearer ${other.apiKey}` } });
    expect(((await asOther.json()) as { leads: unknown[] }).leads).toEqual([]);
  });
});

describe('signing out', () => {
  it('needs the CSRF token, then clears the cookie', async () => {
    const site = await newSite();
    const s = await signIn(site);
    for (const token of [null, 'nope']) {
      const refused = await withSession(s, '/dashboard/session', { method: 'DELETE', token });
      expect(refused.status).toBe(403);
      expect(refused.headers.getAll('set-cookie')).toEqual([]);
    }
    const foreign = await withSession(s, '/dashboard/session', { method: 'DELETE', origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);

    const res = await withSession(s, '/dashboard/session', { method: 'DELETE' });
    expect(res.status).toBe(204);
    const [cleared] = res.headers.getAll('set-cookie');
    expect(cleared).toMatch(new RegExp(`^${COOKIE}=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Strict$`));
    // Without a session there is nothing to protect: signing out again just clears.
    expect((await call('/dashboard/session', { method: 'DELETE' })).status).toBe(204);
  });
});

describe('the signing secret', () => {
  it('is SESSION_SECRET when set (32 characters at least), otherwise one kept in D1', async () => {
    const stored = await env.DB.prepare("SELECT value FROM worker_secrets WHERE name = 'session'").first<{ value: string }>();
    expect(stored?.value).toMatch(/^[A-Za-z0-9+/]{43}=$/);

    const secret = 'a-configured-secret-of-enough-length-0123';
    const configured = await sessionKey({ ...env, SESSION_SECRET: secret });
    const session = newSession('key_x', Date.now());
    const expected = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    expect(await sealSession(configured, session)).toBe(await sealSession(expected, session));
    await expect(async () => sessionKey({ ...env, SESSION_SECRET: 'short' })).rejects.toThrow(/at least 32/);
    // 32 characters exactly will do; 31 will not.
    await expect(sessionKey({ ...env, SESSION_SECRET: 'k'.repeat(32) })).resolves.toBeDefined();
    await expect(async () => sessionKey({ ...env, SESSION_SECRET: 'k'.repeat(31) })).rejects.toThrow(/31 characters long/);
    // Neither key can be read back out of the isolate.
    expect([(await sessionKey(env)).extractable, configured.extractable]).toEqual([false, false]);
  });

  it('is read from D1 again after a read that failed, not remembered failing', async () => {
    // A configured secret first, so that the isolate holds no key from D1.
    await sessionKey({ ...env, SESSION_SECRET: 'a-configured-secret-of-enough-length-0123' });
    // As the binding fails: a statement cannot be made, a batch is refused.
    const unreachable = proxiedD1({
      prepare: () => {
        throw new Error('D1 is unreachable');
      },
      batch: () => Promise.reject(new Error('D1 is unreachable')),
    });
    await expect(sessionKey({ ...env, DB: unreachable })).rejects.toThrow();
    const key = await sessionKey(env);
    const session = newSession('key_x', Date.now());
    expect(await openSession(key, await sealSession(key, session), Date.now())).toEqual({ ok: true, session });
  });

  it('ends a session at its expiry, to the millisecond', async () => {
    const key = await sessionKey(env);
    const session = { keyId: 'key_x', expiresAt: 1_800_000_000_000 };
    const sealed = await sealSession(key, session);
    expect(await openSession(key, sealed, session.expiresAt - 1)).toEqual({ ok: true, session });
    expect(await openSession(key, sealed, session.expiresAt)).toEqual({ ok: false, reason: 'expired' });
  });
});
