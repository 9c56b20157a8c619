import OpenAI from 'openai';
import { hashKey } from '../../simulator/state';
import { startSimulator, type RunningSimulator } from '../helpers/simulator';

// The reference gateway over real HTTP, called with the official openai SDK as canaries and apps do.
let gw: RunningSimulator;
let base: string;
let provisioningKey: string;
beforeAll(async () => {
  gw = await startSimulator();
  ({ base, provisioningKey } = gw);
});
afterAll(async () => {
  await gw?.close();
});
const admin: RunningSimulator['admin'] = (...args) => gw.admin(...args);
const newKey = (fields?: Record<string, unknown>) => gw.newKey(fields);

const answerFormat = {
  type: 'json_schema' as const,
  json_schema: {
    name: 'answer',
    schema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] },
  },
};
/** The HTTP status a call ended with (200 when it succeeded). */
const statusOf = (call: Promise<unknown>) =>
  call.then(
    () => 200,
    (e: { status: number }) => e.status,
  );
const client = (apiKey: string) => new OpenAI({ apiKey, baseURL: `${base}/v1`, maxRetries: 0 });

describe('the reference gateway, OpenAI API', () => {
  it('serves chat, streaming, tool calls, structured output, embeddings and responses with request ids and usage', async () => {
    const { key } = await newKey();
    const ai = client(key);

    const models = await ai.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['gpt-4o-mini', 'text-embedding-3-small']);

    const { data: chat, response } = await ai.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'ping' }] })
      .withResponse();
    // LiteLLM's request id header; it sends no x-request-id, so the SDK's own request id stays empty.
    expect(response.headers.get('x-litellm-call-id')).toMatch(/^req_[0-9a-f]{24}$/);
    expect(chat.choices[0]?.message.content).toMatch(/rekey simulator/);
    expect(chat.usage?.total_tokens).toBeGreaterThan(0);
    const again = await ai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'ping' }],
    });
    expect(again.choices[0]?.message.content).toBe(chat.choices[0]?.message.content);

    const stream = await ai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'stream please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage ?? usage;
    }
    expect(text).toMatch(/rekey simulator/);
    expect(usage?.total_tokens).toBeGreaterThan(0);

    const tool = await ai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'weather?' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            parameters: {
              type: 'object',
              properties: { city: { type: 'string' }, days: { type: 'integer' } },
              required: ['city'],
            },
          },
        },
      ],
    });
    const call = tool.choices[0]?.message.tool_calls?.[0];
    expect(tool.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call?.type === 'function' ? JSON.parse(call.function.arguments) : undefined).toEqual({
      city: 'sample',
      days: 1,
    });

    const structured = await ai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'json' }],
      response_format: answerFormat,
    });
    expect(JSON.parse(structured.choices[0]?.message.content ?? '')).toEqual({ ok: true });

    const emb = await ai.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] });
    expect(emb.data).toHaveLength(2);
    expect(emb.data[0]?.embedding).toHaveLength(16);

    const resp = await ai.responses.create({ model: 'gpt-4o-mini', input: 'hello' });
    expect(resp.output_text).toMatch(/rekey simulator/);
    expect(resp.usage?.total_tokens).toBeGreaterThan(0);
  });

  it("answers an unknown key with LiteLLM's 401 token_not_found_in_db body and its call id", async () => {
    const err = (await client('sk-unknown-key-000000')
      .models.list()
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(err.status).toBe(401);
    expect(err.type).toBe('token_not_found_in_db');
    expect(err.code).toBe('401');
    expect(err.headers?.get('x-litellm-call-id')).toMatch(/^req_/);
  });

  it('enforces the key scope: a model outside it is refused with 403', async () => {
    const { key } = await newKey();
    const err = (await client(key)
      .chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(403);
    expect(err.message).toMatch(/key not allowed to access model/);
  });
});

describe('the reference gateway, LiteLLM admin API', () => {
  it('generates, describes, updates, blocks, unblocks and deletes keys; deleting twice is a 404', async () => {
    const { key, token } = await newKey({
      key_alias: 'chat-api',
      max_budget: 50,
      rpm_limit: 100,
      metadata: { rekey_rotation: 'r1' },
    });
    expect(token).toBe(hashKey(key));
    const info = await admin('GET', `/key/info?key=${encodeURIComponent(key)}`);
    expect(info.body.info).toMatchObject({
      key_alias: 'chat-api',
      max_budget: 50,
      rpm_limit: 100,
      team_id: 'platform-ai',
      blocked: false,
    });
    expect(JSON.stringify(info.body.info)).not.toContain(key);
    expect((await admin('POST', '/key/generate', { key_alias: 'chat-api' })).status).toBe(400);
    expect((await admin('POST', '/key/update', { key, tpm_limit: 1000 })).body).toMatchObject({
      tpm_limit: 1000,
    });
    expect((await admin('GET', '/key/list?key_alias=chat-api')).body).toMatchObject({
      keys: [token],
      total_count: 1,
    });

    expect((await admin('POST', '/key/block', { key })).body).toMatchObject({ token, blocked: true });
    expect(await statusOf(client(key).models.list())).toBe(401);
    await admin('POST', '/key/unblock', { key: token });
    expect((await client(key).models.list()).data.length).toBeGreaterThan(0);

    expect((await admin('POST', '/key/delete', { keys: [key] })).body).toEqual({ deleted_keys: [key] });
    const second = await admin('POST', '/key/delete', { keys: [key] });
    expect(second.status).toBe(404);
    expect(second.body).toEqual({
      error: {
        message: "{'error': 'No keys found'}",
        type: 'internal_server_error',
        param: 'None',
        code: '404',
      },
    });
    // As LiteLLM 1.110: a deleted key's info is 200 with status "deleted", not 404.
    expect((await admin('GET', `/key/info?key=${token}`)).body.info).toMatchObject({ status: 'deleted' });
    expect(await statusOf(client(key).models.list())).toBe(401);
  });

  it('refuses admin calls without the master key', async () => {
    const res = await admin('POST', '/key/generate', {}, 'sk-not-the-master');
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: { type: 'auth_error', code: '401' } });
  });

  it('logs spend per request and filters by key', async () => {
    const { key, token } = await newKey();
    const ai = client(key);
    for (let i = 0; i < 3; i++)
      await ai.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: `n${i}` }],
        user: 'enrichment-worker',
      });
    const logs = (await admin('GET', `/spend/logs?api_key=${encodeURIComponent(key)}`)).body as unknown as {
      api_key: string;
      user: string;
      end_user: string;
      spend: number;
      status: string;
    }[];
    expect(logs).toHaveLength(3);
    // As on LiteLLM: the caller's `user` is the row's `end_user`; `user` is the key's user_id ("" here).
    expect(
      logs.every(
        (r) =>
          r.api_key === token &&
          r.end_user === 'enrichment-worker' &&
          r.user === '' &&
          r.spend > 0 &&
          r.status === 'success',
      ),
    ).toBe(true);
  });

  it('looks one request up by request_id as LiteLLM does: [row], or [null] when there is none', async () => {
    const { key } = await newKey();
    const { response } = await client(key)
      .chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] })
      .withResponse();
    const request_id = response.headers.get('x-litellm-call-id');
    const found = await admin('GET', `/spend/logs?request_id=${request_id}`);
    expect(found.body).toEqual([expect.objectContaining({ request_id })]);
    expect((await admin('GET', '/spend/logs?request_id=req_redacted')).body).toEqual([null]);
  });
});

describe('the reference gateway, OpenRouter management API', () => {
  it('creates, reads, disables and deletes keys by hash; an unknown hash is a 404', async () => {
    const created = await admin('POST', '/api/v1/keys', { name: 'rekey-r2', limit: 25 }, provisioningKey);
    expect(created.status).toBe(201);
    const { data, key } = created.body as {
      data: { hash: string; disabled: boolean; limit: number };
      key: string;
    };
    expect(data).toMatchObject({ hash: hashKey(key), disabled: false, limit: 25 });
    expect(JSON.stringify(data)).not.toContain(key);
    expect(
      ((await admin('GET', '/api/v1/keys', undefined, provisioningKey)).body.data as { hash: string }[]).map(
        (k) => k.hash,
      ),
    ).toContain(data.hash);

    const current = await fetch(`${base}/api/v1/key`, { headers: { authorization: `Bearer ${key}` } });
    expect(((await current.json()) as { data: { limit: number; usage: number } }).data).toMatchObject({
      limit: 25,
      usage: 0,
    });

    expect(
      (await admin('PATCH', `/api/v1/keys/${data.hash}`, { disabled: true }, provisioningKey)).body,
    ).toMatchObject({ data: { disabled: true } });
    expect(await statusOf(client(key).models.list())).toBe(401);
    expect((await admin('DELETE', `/api/v1/keys/${data.hash}`, undefined, provisioningKey)).body).toEqual({
      deleted: true,
    });
    expect((await admin('DELETE', `/api/v1/keys/${data.hash}`, undefined, provisioningKey)).status).toBe(404);
    expect((await admin('GET', `/api/v1/keys/${data.hash}`, undefined, provisioningKey)).body).toEqual({
      error: { code: 404, message: 'API key does not exist' },
    });
  });
});

describe('the reference gateway, fault injection', () => {
  it('forces a status, adds latency, fails a share of requests, breaks streams and mismatches schemas per key', async () => {
    const { key, token } = await newKey();
    const ai = client(key);
    const chat = () =>
      ai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] });

    await admin('PUT', `/sim/faults/${token}`, { status: 429 });
    expect(await statusOf(chat())).toBe(429);

    await admin('PUT', `/sim/faults/${token}`, { failRate: 0.5 });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push(
        await chat().then(
          () => 200,
          (e: { status: number }) => e.status,
        ),
      );
    expect(statuses.filter((s) => s === 500)).toHaveLength(3);

    await admin('PUT', `/sim/faults/${token}`, { latencyMs: 300 });
    const t0 = Date.now();
    await chat();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);

    await admin('PUT', `/sim/faults/${token}`, { breakStreams: true });
    const broken = async () => {
      const stream = await ai.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
      });
      for await (const _ of stream) {
        /* drain */
      }
    };
    await expect(broken()).rejects.toThrow();

    await admin('PUT', `/sim/faults/${token}`, { schemaMismatch: true });
    const mismatched = await ai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'json' }],
      response_format: answerFormat,
    });
    expect(JSON.parse(mismatched.choices[0]?.message.content ?? '')).toEqual({ unexpected: true });

    await admin('PUT', `/sim/faults/${token}`, { deniedRoutes: ['embeddings'] });
    expect(await statusOf(ai.embeddings.create({ model: 'text-embedding-3-small', input: 'x' }))).toBe(403);

    await admin('DELETE', `/sim/faults/${token}`);
    expect((await chat()).choices).toHaveLength(1);
  });

  it('keeps accepting a blocked key until its revocation delay has passed', async () => {
    const { key, token } = await newKey();
    await admin('PUT', `/sim/faults/${token}`, { revocationDelayMs: 30_000 });
    await admin('POST', '/key/block', { key });
    expect((await client(key).models.list()).data.length).toBeGreaterThan(0);
    gw.clock.now += 30_000;
    expect(await statusOf(client(key).models.list())).toBe(401);
  });
});

describe('the reference gateway, metrics', () => {
  it('counts requests per hashed key, route and status exactly', async () => {
    const { key, token } = await newKey({ key_alias: 'metrics-probe' });
    const ai = client(key);
    for (let i = 0; i < 4; i++)
      await ai.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'x' }],
        user: 'customer-chat-api',
      });
    await ai.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] })
      .catch(() => undefined);
    const text = await (
      await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${gw.masterKey}` } })
    ).text();
    const series = (status: string, model: string) =>
      new RegExp(
        `litellm_proxy_total_requests_metric_total\\{[^}]*hashed_api_key="${token}"[^}]*requested_model="${model}"[^}]*route="/v1/chat/completions",status_code="${status}"[^}]*\\} (\\d+)`,
      ).exec(text)?.[1];
    expect(series('200', 'gpt-4o-mini')).toBe('4');
    expect(series('403', 'gpt-4o')).toBe('1');
    expect(text).toMatch(
      new RegExp(
        `litellm_total_tokens_metric_total\\{end_user="customer-chat-api",hashed_api_key="${token}",api_key_alias="metrics-probe"`,
      ),
    );
  });
});
