import { randomBytes } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { ADMIN_ADAPTERS, createOpenAiProbe } from '../../activities/gateway';
import type { GatewayAdmin } from '../../domain/ports';
import { hashKey } from '../../simulator/state';
import { startSimulator, type RunningSimulator } from '../helpers/simulator';

// The reference gateway answers as a LiteLLM 1.110 proxy does (issue 15's measured facts), and the
// LiteLLM adapter and the canary hold up against it. Each setting's departure is tested where it exists.
let gw: RunningSimulator;
let litellm: GatewayAdmin;
beforeAll(async () => {
  gw = await startSimulator();
  litellm = ADMIN_ADAPTERS.litellm({ baseUrl: gw.base, adminKey: () => Promise.resolve(gw.masterKey) });
});
afterAll(async () => {
  await gw?.close();
});

const call = async (base: string, value: string, path = '/v1/chat/completions', model = 'gpt-4o-mini') => {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${value}`, 'content-type': 'application/json' },
    body: JSON.stringify(
      path === '/v1/responses'
        ? { model, input: 'hi' }
        : { model, messages: [{ role: 'user', content: 'hi' }] },
    ),
  });
  const body = (await res.json()) as {
    error?: { message: string; type: string; param: string; code: string };
  };
  return { status: res.status, error: body.error, headers: res.headers };
};

describe('auth and model refusals', () => {
  it('answers an unknown or deleted key 401 token_not_found_in_db, a blocked key 401 "Key is blocked"', async () => {
    const neverIssued = `sk-${randomBytes(12).toString('hex')}`;
    const unknown = await call(gw.base, neverIssued);
    expect(unknown.status).toBe(401);
    expect(unknown.error).toMatchObject({ type: 'token_not_found_in_db', param: 'key', code: '401' });
    expect(unknown.error!.message).toContain(
      'Unable to find token in cache or `LiteLLM_VerificationTokenTable`',
    );
    expect(unknown.error!.message).toContain(`Key Hash (Token) =${hashKey(neverIssued)}`);

    const blocked = await gw.newKey();
    await gw.admin('POST', '/key/block', { key: blocked.key });
    const b = await call(gw.base, blocked.key);
    expect(b).toMatchObject({ status: 401, error: { type: 'auth_error', code: '401' } });
    expect(b.error!.message).toContain('Key is blocked. Update via `/key/unblock`');

    const deleted = await gw.newKey();
    await gw.admin('POST', '/key/delete', { keys: [deleted.key] });
    expect((await call(gw.base, deleted.key)).error?.type).toBe('token_not_found_in_db');
  });

  it("answers a model outside the key's models 403 key_model_access_denied", async () => {
    const { key } = await gw.newKey({ models: ['gpt-4o'] });
    const res = await call(gw.base, key);
    expect(res).toMatchObject({
      status: 403,
      error: { type: 'key_model_access_denied', param: 'model', code: '403' },
    });
    expect(res.error!.message).toContain('key not allowed to access model');
  });
});

describe('teams', () => {
  it('creates, reads and lists teams; refuses a duplicate id', async () => {
    const created = await gw.admin('POST', '/team/new', { team_id: 'facts-team', team_alias: 'Facts' });
    expect(created).toMatchObject({ status: 200, body: { team_id: 'facts-team', team_alias: 'Facts' } });
    expect((await gw.admin('POST', '/team/new', { team_id: 'facts-team' })).status).toBe(400);
    const { key } = await gw.newKey({ team_id: 'facts-team' });
    const info = await gw.admin('GET', '/team/info?team_id=facts-team');
    expect(info.body).toMatchObject({ team_id: 'facts-team', team_info: { team_alias: 'Facts' } });
    expect((info.body.keys as { token: string }[]).map((k) => k.token)).toContain(hashKey(key));
    expect((await gw.admin('GET', '/team/info?team_id=no-such-team')).status).toBe(404);
    const list = (await gw.admin('GET', '/team/list')).body as unknown as { team_id: string }[];
    expect(list.map((t) => t.team_id)).toContain('facts-team');
  });

  it('refuses /key/generate for a team that does not exist with 404 "Team doesn\'t exist in db"', async () => {
    const res = await gw.admin('POST', '/key/generate', { team_id: 'ghost-team' });
    expect(res.status).toBe(404);
    expect((res.body.error as { message: string }).message).toBe("Team doesn't exist in db. Team=ghost-team");
  });

  it('with teams "any" accepts any team; every call of such a key fails 404 once teams must exist', async () => {
    const lax = await startSimulator({ litellm: { teams: 'any' } });
    try {
      const made = await lax.admin('POST', '/key/generate', { team_id: 'ghost-team' });
      expect(made.status).toBe(200);
      const key = made.body.key as string;
      expect((await call(lax.base, key)).status).toBe(200);
      lax.sim.state.facts.teams = 'must-exist';
      const res = await call(lax.base, key);
      expect(res.status).toBe(404);
      expect(res.error!.message).toBe("Team doesn't exist in db. Team=ghost-team");
    } finally {
      await lax.close();
    }
  });
});

describe('/key/regenerate', () => {
  it('is an Enterprise feature without a licence: 500, and the old key keeps working', async () => {
    const { key, token } = await gw.newKey();
    for (const path of [`/key/${token}/regenerate`, '/key/regenerate']) {
      const res = await gw.admin('POST', path, { key: path === '/key/regenerate' ? key : undefined });
      expect(res.status).toBe(500);
      expect((res.body.error as { message: string }).message).toContain(
        'Regenerating Virtual Keys is an Enterprise feature',
      );
    }
    expect((await call(gw.base, key)).status).toBe(200);
  });

  it('with a licence keeps the old key for grace_period, revokes it at once without one, counts rotations', async () => {
    const licensed = await startSimulator({ litellm: { licensed: true } });
    try {
      const old = await licensed.newKey();
      const graced = await licensed.admin('POST', `/key/${old.token}/regenerate`, { grace_period: '30s' });
      expect(graced.status).toBe(200);
      const second = graced.body as { key: string; token_id: string; rotation_count: number };
      expect(second.rotation_count).toBe(1);
      expect((await call(licensed.base, old.key)).status).toBe(200);
      expect((await call(licensed.base, second.key)).status).toBe(200);
      licensed.clock.now += 31_000;
      expect((await call(licensed.base, old.key)).status).toBe(401);

      const third = await licensed.admin('POST', '/key/regenerate', { key: second.key });
      expect(third.body.rotation_count).toBe(2);
      expect((await call(licensed.base, second.key)).status).toBe(401);
      expect((await call(licensed.base, third.body.key as string)).status).toBe(200);
      const info = await licensed.admin('GET', `/key/info?key=${third.body.token_id as string}`);
      expect(info.body.info).toMatchObject({ rotation_count: 2, status: 'active' });
    } finally {
      await licensed.close();
    }
  });
});

describe('/key/info and /key/list', () => {
  it('answers a deleted key 200 with status "deleted", and carries rotation_count, last_active, blocked', async () => {
    const { key, token } = await gw.newKey();
    const fresh = await gw.admin('GET', `/key/info?key=${token}`);
    expect(fresh.body.info).toMatchObject({
      rotation_count: 0,
      last_active: null,
      blocked: false,
      status: 'active',
    });
    await call(gw.base, key);
    const used = (await gw.admin('GET', `/key/info?key=${token}`)).body.info as { last_active: string };
    expect(Date.parse(used.last_active)).toBeGreaterThan(0);
    await gw.admin('POST', '/key/delete', { keys: [token] });
    const gone = await gw.admin('GET', `/key/info?key=${token}`);
    expect(gone).toMatchObject({ status: 200, body: { info: { status: 'deleted' } } });
  });

  it('lists hashes, and rows with return_full_object=true', async () => {
    const { token } = await gw.newKey({ key_alias: 'facts-list' });
    const hashes = await gw.admin('GET', '/key/list?key_alias=facts-list');
    expect(hashes.body.keys).toEqual([token]);
    const rows = await gw.admin('GET', '/key/list?key_alias=facts-list&return_full_object=true');
    expect(rows.body.keys).toEqual([expect.objectContaining({ token, key_alias: 'facts-list' })]);
  });
});

describe('request ids', () => {
  it('sends x-litellm-call-id (the spend-log request id) and no x-request-id, streamed or not', async () => {
    const { key } = await gw.newKey();
    const plain = await call(gw.base, key);
    expect(plain.headers.get('x-litellm-call-id')).toMatch(/^req_/);
    expect(plain.headers.get('x-request-id')).toBeNull();
    const stream = await fetch(`${gw.base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    expect(stream.headers.get('x-litellm-call-id')).toMatch(/^req_/);
    await stream.text();
  });

  it('the canary reports the x-litellm-call-id of each request (the gateway sends no x-request-id)', async () => {
    const { key } = await gw.newKey();
    const report = await createOpenAiProbe().canary(`${gw.base}/v1`, key, ['chat-completions', 'embeddings']);
    expect(report.passed).toBe(true);
    for (const r of report.requests) expect(r.requestId).toMatch(/^req_/);
    expect(new Set(report.requests.map((r) => r.requestId)).size).toBe(2);
  });
});

describe('deployment cooldown after an upstream failure', () => {
  it('cools the only deployment down for cooldown_time: every app gets 429 "No deployments available"', async () => {
    const gwc = await startSimulator({ litellm: { upstreamMissingRoutes: ['/v1/responses'] } });
    try {
      const canaryKey = await gwc.newKey();
      const app = await gwc.newKey();
      expect((await call(gwc.base, canaryKey.key, '/v1/responses')).status).toBe(404);
      const cooled = await call(gwc.base, app.key);
      expect(cooled.status).toBe(429);
      expect(cooled.error!.message).toContain(
        'No deployments available for selected model, Try again in 5 seconds',
      );
      gwc.clock.now += 5_000;
      expect((await call(gwc.base, app.key)).status).toBe(200);
    } finally {
      await gwc.close();
    }
  });

  it('the canary stops at its first failing route, so the failures stay within allowed_fails and apps keep working', async () => {
    const gwc = await startSimulator({
      litellm: { upstreamMissingRoutes: ['/v1/responses', '/v1/embeddings'], allowedFails: 1 },
    });
    try {
      const canaryKey = await gwc.newKey();
      const app = await gwc.newKey();
      const report = await createOpenAiProbe().canary(`${gwc.base}/v1`, canaryKey.key, [
        'chat-completions',
        'responses',
        'embeddings',
        'streaming',
      ]);
      expect(report.passed).toBe(false);
      expect(report.requests.map((r) => [r.route, r.ok, r.status, r.reason, r.attempted])).toEqual([
        ['chat-completions', true, 200, undefined, undefined],
        ['responses', false, 404, 'route-denied', undefined],
        ['embeddings', false, 0, 'not-attempted', false],
        ['streaming', false, 0, 'not-attempted', false],
      ]);
      // One upstream failure is within allowed_fails: the app right after is served.
      expect((await call(gwc.base, app.key)).status).toBe(200);
      // A canary that went on would have sent the second failing route, and cooled everyone down.
      expect((await call(gwc.base, canaryKey.key, '/v1/embeddings', 'text-embedding-3-small')).status).toBe(
        404,
      );
      expect((await call(gwc.base, app.key)).status).toBe(429);
    } finally {
      await gwc.close();
    }
  });
});

describe('LiteLLM adapter', () => {
  it('counts a key whose /key/info says status "deleted" as gone: describe, delete and disable', async () => {
    const { key, token } = await gw.newKey();
    await gw.admin('POST', '/key/delete', { keys: [token] });
    expect(await litellm.describeKey(key)).toBeUndefined();
    expect(await litellm.deleteKey(token)).toBe('already-gone');
    expect(await litellm.disableKey(token)).toBe('already-gone');
  });

  it("checks the key's team before issuing, and never creates it", async () => {
    const err = await litellm
      .createKey('rot-facts-1', { models: ['gpt-4o-mini'], team: 'missing-team' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as Error).message).toContain("team 'missing-team' does not exist");
    expect(gw.sim.state.teams.has('missing-team')).toBe(false);

    await gw.ensureTeam('present-team');
    const created = await litellm.createKey('rot-facts-2', { models: ['gpt-4o-mini'], team: 'present-team' });
    expect(gw.sim.state.keys.get(created.keyId)?.teamId).toBe('present-team');
  });
});
