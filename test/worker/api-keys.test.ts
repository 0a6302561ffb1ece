import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../worker/lib/ids';
import { operations } from '../../worker/openapi/spec';
import { MAX_ACTIVE_KEYS } from '../../worker/routes/api-keys';
import { api, call, newSite, type TestSite } from './helpers';

type Json = Record<string, any>;

interface ApiKeyJson {
  id: string;
  name: string;
  prefix: string;
  createdAt: number;
  revokedAt: number | null;
  current: boolean;
}

const as = (site: TestSite, apiKey: string): TestSite => ({ ...site, apiKey });
const post = (site: TestSite, path: string, body?: unknown) =>
  api(site, path, { method: 'POST', ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
const revoke = (site: TestSite, id: string) => api(site, `/v1/api-keys/${id}`, { method: 'DELETE' });
const list = async (site: TestSite) => ((await (await api(site, '/v1/api-keys')).json()) as { apiKeys: ApiKeyJson[] }).apiKeys;
const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string; issues?: { path: unknown[] }[] } }).error;
const rowsOf = (siteId: string) => env.DB.prepare('SELECT * FROM api_keys WHERE site_id = ? ORDER BY id').bind(siteId).all().then((r) => r.results);

/** The answer has the status and the shape the OpenAPI document gives the operation, nothing dropped. */
async function documented(id: string, res: Response): Promise<Json> {
  const op = operations.find((o) => o.id === id)!;
  const body = (await res.json()) as Json;
  expect(res.status, `${id}: ${JSON.stringify(body)}`).toBe(op.status ?? 200);
  expect(op.response!.parse(body), id).toEqual(body);
  return body;
}

async function create(site: TestSite, name: string): Promise<ApiKeyJson & { key: string }> {
  return (await documented('createApiKey', await post(site, '/v1/api-keys', { name }))).apiKey;
}

describe('/v1/api-keys', () => {
  it('creates a key shown once, stored as its SHA-256 and prefix, that works at once', async () => {
    const site = await newSite();
    const made = await create(site, '  Zapier  ');
    expect(made).toEqual({ id: expect.stringMatching(/^key_/), name: 'Zapier', prefix: made.key.slice(0, 10), createdAt: expect.any(Number), revokedAt: null, current: false, key: expect.stringMatching(/^sk_[a-z0-9]{32}$/) });
    expect(made.prefix).toMatch(/^sk_.{7}$/);
    expect((await api(as(site, made.key), '/v1/bands')).status).toBe(200);
    const row = (await rowsOf(site.id)).find((r) => r.id === made.id)!;
    expect(row).toMatchObject({ hash: await sha256Hex(made.key), prefix: made.prefix, name: 'Zapier', revoked_at: null });
    // The key itself is nowhere in the database.
    const everything = JSON.stringify(await rowsOf(site.id));
    expect(everything).not.toContain(made.key);
  });

  it('lists every key of the site with its prefix, never a hash or a key, and marks the one in use', async () => {
    const site = await newSite();
    const other = await newSite();
    const second = await create(site, 'n8n');
    const gone = await create(site, 'old laptop');
    expect((await revoke(site, gone.id)).status).toBe(200);
    await create(other, 'someone else');
    const body = await documented('listApiKeys', await api(site, '/v1/api-keys'));
    const keys = body.apiKeys as ApiKeyJson[];
    expect(keys.map((k) => [k.name, k.current, k.revokedAt === null])).toEqual([
      ['default', true, true],
      ['n8n', false, true],
      ['old laptop', false, false],
    ]);
    for (const k of keys) expect(Object.keys(k).sort()).toEqual(['createdAt', 'current', 'id', 'name', 'prefix', 'revokedAt']);
    expect(keys[0]!.prefix).toBe(site.apiKey.slice(0, 10));
    const text = JSON.stringify(body);
    for (const row of await rowsOf(site.id)) expect(text).not.toContain(row.hash as string);
    expect(text).not.toContain(site.apiKey);
    expect(text).not.toContain(second.key);
    // Seen from the second key, that one is current.
    expect((await list(as(site, second.key))).filter((k) => k.current).map((k) => k.id)).toEqual([second.id]);
  });

  it('refuses an invalid body with the path and problem of each mistake, and writes nothing', async () => {
    const site = await newSite();
    const before = await rowsOf(site.id);
    const cases: [unknown, number, string, unknown[][]?][] = [
      [{}, 400, 'invalid_request', [['name']]],
      [{ name: '   ' }, 400, 'invalid_request', [['name']]],
      [{ name: 'x'.repeat(101) }, 400, 'invalid_request', [['name']]],
      [{ name: 'ci', scopes: ['all'] }, 400, 'invalid_request', [[]]],
      [{ name: 7 }, 400, 'invalid_request', [['name']]],
      ['{"name": ', 400, 'invalid_json'],
      [undefined, 400, 'empty_body'],
      [{ name: 'x'.repeat(5000) }, 413, 'payload_too_large'],
    ];
    for (const [body, status, code, paths] of cases) {
      const res = await post(site, '/v1/api-keys', body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      const error = await errorOf(res);
      expect(error.code).toBe(code);
      if (paths) expect(error.issues!.map((i) => i.path)).toEqual(paths);
    }
    expect(await rowsOf(site.id)).toEqual(before);
  });

  it(`keeps at most ${MAX_ACTIVE_KEYS} active keys per site`, async () => {
    const site = await newSite();
    const made = await Promise.all(Array.from({ length: MAX_ACTIVE_KEYS }, (_, i) => post(site, '/v1/api-keys', { name: `k${i}` })));
    // The admin's key counts: one of these requests found the site full, whichever came last.
    expect(made.map((r) => r.status).sort()).toEqual([...Array(MAX_ACTIVE_KEYS - 1).fill(201), 409]);
    const full = await post(site, '/v1/api-keys', { name: 'one more' });
    expect(full.status).toBe(409);
    expect((await errorOf(full)).code).toBe('too_many_api_keys');
    expect((await list(site)).length).toBe(MAX_ACTIVE_KEYS);
    const last = (await list(site)).at(-1)!;
    expect((await revoke(site, last.id)).status).toBe(200);
    expect((await post(site, '/v1/api-keys', { name: 'one more' })).status).toBe(201);
  });

  it('rotates a key: a new key with the same name, the old one revoked in the same batch', async () => {
    const site = await newSite();
    const ci = await create(site, 'ci');
    const body = await documented('rotateApiKey', await post(site, `/v1/api-keys/${ci.id}/rotate`));
    expect(body.apiKey).toMatchObject({ name: 'ci', revokedAt: null, current: false, key: expect.stringMatching(/^sk_/) });
    expect(body.apiKey.id).not.toBe(ci.id);
    expect(body.apiKey.key).not.toBe(ci.key);
    expect(body.revoked).toMatchObject({ id: ci.id, name: 'ci', revokedAt: expect.any(Number), current: false });
    // No grace period: the old key stops at once, the new one works.
    expect((await api(as(site, ci.key), '/v1/bands')).status).toBe(401);
    expect((await api(as(site, body.apiKey.key), '/v1/bands')).status).toBe(200);
    // Both rows stay: the old one for the audit trail.
    const rows = await rowsOf(site.id);
    expect(rows.filter((r) => r.name === 'ci').map((r) => [r.id, r.revoked_at === null]).sort()).toEqual(
      [[ci.id, false], [body.apiKey.id, true]].sort(),
    );
    // A revoked key is not rotated again; an unknown one is not found.
    const again = await post(site, `/v1/api-keys/${ci.id}/rotate`);
    expect(again.status).toBe(409);
    expect((await errorOf(again)).code).toBe('api_key_revoked');
    const unknown = await post(site, '/v1/api-keys/key_nobody/rotate');
    expect(unknown.status).toBe(404);
    expect((await errorOf(unknown)).code).toBe('api_key_not_found');
  });

  it('rotates the key in use, and says so', async () => {
    const site = await newSite();
    const [own] = await list(site);
    const res = await post(site, `/v1/api-keys/${own!.id}/rotate`);
    expect(res.status).toBe(201);
    const body = (await res.json()) as { apiKey: { key: string }; revoked: ApiKeyJson };
    expect(body.revoked).toMatchObject({ id: own!.id, current: true, revokedAt: expect.any(Number) });
    expect((await api(site, '/v1/api-keys')).status).toBe(401);
    expect((await list(as(site, body.apiKey.key))).filter((k) => k.revokedAt === null)).toHaveLength(1);
  });

  it('makes one new key when the same rotation is sent twice at once', async () => {
    const site = await newSite();
    const ci = await create(site, 'ci');
    const answers = await Promise.all([post(site, `/v1/api-keys/${ci.id}/rotate`), post(site, `/v1/api-keys/${ci.id}/rotate`)]);
    expect(answers.map((r) => r.status).sort()).toEqual([201, 409]);
    const rows = await rowsOf(site.id);
    expect(rows.filter((r) => r.name === 'ci')).toHaveLength(2);
    expect(rows.filter((r) => r.revoked_at === null)).toHaveLength(2);
  });

  it('revokes a key: the row stays with revokedAt, the key and its dashboard sessions stop at once', async () => {
    const site = await newSite();
    const zap = await create(site, 'zapier');
    const signIn = await call('/dashboard/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: zap.key }) });
    const cookie = signIn.headers.getAll('set-cookie')[0]!.split(';')[0]!;
    expect((await call('/v1/bands', { headers: { cookie } })).status).toBe(200);

    const body = await documented('revokeApiKey', await revoke(site, zap.id));
    expect(body.apiKey).toMatchObject({ id: zap.id, name: 'zapier', revokedAt: expect.any(Number), current: false });
    expect((await api(as(site, zap.key), '/v1/bands')).status).toBe(401);
    expect((await call('/v1/bands', { headers: { cookie } })).status).toBe(401);
    const row = (await rowsOf(site.id)).find((r) => r.id === zap.id)!;
    expect(row.revoked_at).toBe(body.apiKey.revokedAt);

    // Asked again (a retry after a lost answer): answered as it is, the first revocation's time kept.
    const again = await revoke(site, zap.id);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { apiKey: ApiKeyJson }).apiKey.revokedAt).toBe(body.apiKey.revokedAt);
    const unknown = await revoke(site, 'key_nobody');
    expect(unknown.status).toBe(404);
    expect((await errorOf(unknown)).code).toBe('api_key_not_found');
  });

  it('refuses to revoke the last active key (409), and allows revoking the key in use, saying so', async () => {
    const site = await newSite();
    const [own] = await list(site);
    const last = await revoke(site, own!.id);
    expect(last.status).toBe(409);
    expect((await errorOf(last)).code).toBe('last_api_key');
    expect((await rowsOf(site.id))[0]!.revoked_at).toBeNull();
    expect((await api(site, '/v1/bands')).status).toBe(200);

    const spare = await create(site, 'spare');
    const res = await revoke(site, own!.id);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { apiKey: ApiKeyJson }).apiKey).toMatchObject({ id: own!.id, current: true, revokedAt: expect.any(Number) });
    expect((await api(site, '/v1/bands')).status).toBe(401);
    expect((await revoke(as(site, spare.key), spare.id)).status).toBe(409);
  });

  it('leaves one active key when the last two are revoked at once', async () => {
    const site = await newSite();
    const [own] = await list(site);
    const spare = await create(site, 'spare');
    const answers = await Promise.all([revoke(site, own!.id), revoke(as(site, spare.key), spare.id)]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 409]);
    expect((await rowsOf(site.id)).filter((r) => r.revoked_at === null)).toHaveLength(1);
  });

  it('never takes a site key (pk_…) as an API key', async () => {
    const site = await newSite();
    for (const [path, init] of [
      ['/v1/api-keys', {}],
      ['/v1/api-keys', { method: 'POST', body: JSON.stringify({ name: 'from a page' }) }],
      ['/v1/leads', {}],
    ] as const) {
      const res = await api(as(site, site.siteKey), path, init);
      expect(res.status).toBe(401);
      const error = await errorOf(res);
      expect(error).toMatchObject({ code: 'unauthorized', message: expect.stringContaining('site key') });
    }
    expect(await rowsOf(site.id)).toHaveLength(1);
  });
});
