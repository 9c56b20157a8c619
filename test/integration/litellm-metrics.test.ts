import { randomBytes } from 'node:crypto';
import OpenAI from 'openai';
import { startSimulator, type RunningSimulator } from '../helpers/simulator';

// The reference gateway's /metrics as a LiteLLM 1.110 proxy serves it (measured, issue 15): the master key
// as bearer by default, end users only with end-user tracking on, 401s without a key hash, and the
// request counter's labels.
let strict: RunningSimulator;
let open: RunningSimulator;
beforeAll(async () => {
  // LiteLLM's defaults: metrics behind the master key, end_user "None".
  strict = await startSimulator({ litellm: { endUserMetrics: false } });
  open = await startSimulator({ litellm: { metricsAuth: false, endUserMetrics: true } });
});
afterAll(async () => {
  await strict?.close();
  await open?.close();
});

const scrape = (gw: RunningSimulator, token?: string) =>
  fetch(`${gw.base}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});

async function chat(gw: RunningSimulator, key: string, user?: string) {
  const ai = new OpenAI({ apiKey: key, baseURL: `${gw.base}/v1`, maxRetries: 0 });
  return ai.chat.completions
    .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], ...(user ? { user } : {}) })
    .then(
      () => 200,
      (err: { status?: number }) => err.status ?? 0,
    );
}

/** The request counter's series, each as its label set and value. */
async function requestSeries(gw: RunningSimulator) {
  const text = await (await scrape(gw, gw.masterKey)).text();
  return [...text.matchAll(/^litellm_proxy_total_requests_metric_total\{([^}]*)\} (\d+)$/gm)].map((m) => ({
    labels: Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!])),
    value: Number(m[2]),
  }));
}

describe('the reference gateway /metrics, as LiteLLM serves it', () => {
  it('answers only the master key as bearer by default, and anyone with the setting off', async () => {
    const app = await strict.newKey();
    expect((await scrape(strict)).status).toBe(401);
    expect((await scrape(strict, app.key)).status).toBe(401);
    const ok = await scrape(strict, strict.masterKey);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/litellm_proxy_total_requests_metric_total/);
    expect((await scrape(open)).status).toBe(200);
  });

  it('labels every end user "None" unless end-user tracking is on', async () => {
    for (const gw of [strict, open]) {
      const { key } = await gw.newKey();
      expect(await chat(gw, key, 'customer-chat-api')).toBe(200);
    }
    const users = async (gw: RunningSimulator) =>
      new Set((await requestSeries(gw)).map((s) => s.labels.end_user));
    expect(await users(strict)).toEqual(new Set(['None']));
    expect(await users(open)).toContain('customer-chat-api');
  });

  it('records 401s without a key hash, for an unknown key and a deleted one alike', async () => {
    const { key, token } = await strict.newKey();
    expect(await chat(strict, key)).toBe(200);
    await strict.admin('POST', '/key/delete', { keys: [token] });
    expect(await chat(strict, key)).toBe(401);
    // A value this proxy never issued, made at run time.
    expect(await chat(strict, `sk-${randomBytes(12).toString('hex')}`)).toBe(401);
    const series = await requestSeries(strict);
    const refused = series.filter((s) => s.labels.status_code === '401');
    expect(refused.map((s) => s.labels.hashed_api_key)).toEqual(['None']);
    expect(refused[0]!.value).toBeGreaterThanOrEqual(2);
    // The key's own series holds its success only.
    const own = series.filter((s) => s.labels.hashed_api_key === token);
    expect(own.map((s) => s.labels.status_code)).toEqual(['200']);
  });

  it('puts LiteLLM 1.110’s labels on the request counter', async () => {
    await strict.ensureTeam('platform-ai');
    const { key, token } = await strict.newKey({ team_id: 'platform-ai', key_alias: 'labelled' });
    expect(await chat(strict, key)).toBe(200);
    const series = (await requestSeries(strict)).find((s) => s.labels.hashed_api_key === token)!;
    expect(Object.keys(series.labels).sort()).toEqual(
      [
        'api_key_alias',
        'api_provider',
        'client_ip',
        'end_user',
        'hashed_api_key',
        'model_id',
        'org_id',
        'requested_model',
        'route',
        'status_code',
        'team',
        'team_alias',
        'user',
        'user_agent',
        'user_email',
      ].sort(),
    );
    expect(series.labels).toMatchObject({
      api_key_alias: 'labelled',
      team: 'platform-ai',
      team_alias: 'platform-ai',
      route: '/v1/chat/completions',
      client_ip: '127.0.0.1',
    });
    expect(series.labels.user_agent).toMatch(/OpenAI/);
  });
});
