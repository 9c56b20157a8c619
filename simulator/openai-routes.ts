// OpenAI-compatible inference routes with per-key auth, scope, faults, usage, spend and metrics.
// Content is deterministic: the same request always gets the same answer.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearer, liteLlmError, openAiError } from './errors';
import {
  cooldownLeftS,
  missingTeam,
  recordUpstreamFailure,
  sendKeyRefusal,
  sendNoDeployments,
  teamMissingMessage,
} from './litellm-facts';
import { requestLabels, type GatewayMetrics, type RequestOrigin } from './metrics';
import { MODELS, hashKey, type GatewayState, type VirtualKey } from './state';
import { recordSpendRow } from './spend-log';

const portkeyHeader = (h: string | string[] | undefined) => (typeof h === 'string' && h ? h : undefined);

/** OpenAI's answer to a deleted or unknown key. */
function sendOpenAiKeyRefusal(reply: FastifyReply, value: string) {
  const shown = `${value.slice(0, 3)}*****${value.slice(-4)}`;
  return openAiError(
    reply,
    401,
    `Incorrect API key provided: ${shown}. You can find your API key at https://platform.openai.com/account/api-keys.`,
    'invalid_request_error',
    'invalid_api_key',
  );
}

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  enum?: unknown[];
  required?: string[];
};

/** A value that satisfies a JSON schema: tool arguments and structured output are built from it. */
export function sampleFor(schema: JsonSchema | undefined): unknown {
  if (!schema) return {};
  if (schema.enum?.length) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string':
      return 'sample';
    case 'number':
    case 'integer':
      return 1;
    case 'boolean':
      return true;
    case 'array':
      return [sampleFor(schema.items)];
    case 'null':
      return null;
    default:
      return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, v]) => [k, sampleFor(v)]));
  }
}

const tokensOf = (text: string) => Math.max(1, Math.ceil(text.length / 4));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An admitted inference call. */
interface Admitted {
  key: VirtualKey;
  started: number;
  user: string;
  requestId: string;
  origin: RequestOrigin;
}

interface ChatBody {
  model?: string;
  messages?: { role: string; content?: unknown }[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  tools?: { type: string; function: { name: string; parameters?: JsonSchema } }[];
  tool_choice?: unknown;
  response_format?: { type: string; json_schema?: { name?: string; schema?: JsonSchema } };
  user?: string;
}

/** Which canary route family a chat request exercises (faults can deny one of them). */
function chatRouteKind(body: ChatBody): string {
  if (body.stream) return 'streaming';
  if (body.tools?.length && body.tool_choice !== 'none') return 'tool-calls';
  if (body.response_format?.type === 'json_schema') return 'structured-output';
  return 'chat-completions';
}

/**
 * LiteLLM labels a request without an end user with the literal "None", and every request so unless
 * end-user tracking in Prometheus is switched on (enable_end_user_cost_tracking_prometheus_only).
 */
function endUserLabel(state: GatewayState, user: string): string {
  return state.facts.endUserMetrics && user ? user : 'None';
}

export function registerOpenAiRoutes(
  app: FastifyInstance,
  state: GatewayState,
  metrics: GatewayMetrics,
): void {
  /** Common path of every inference call: auth, faults, scope; returns the key or sends the error. */
  async function admit(
    req: FastifyRequest,
    reply: FastifyReply,
    path: string,
    kind: string,
    model: string,
  ): Promise<Admitted | undefined> {
    const requestId = state.nextRequestId(path);
    // LiteLLM's request id header (it sends no x-request-id of its own); spend-log rows carry the same id.
    reply.header('x-litellm-call-id', requestId);
    // Portkey clients send their key in x-portkey-api-key rather than as bearer.
    const value = bearer(req.headers.authorization) ?? portkeyHeader(req.headers['x-portkey-api-key']);
    const user = (req.body as { user?: string } | undefined)?.user ?? '';
    const started = state.now();
    const origin: RequestOrigin = { clientIp: req.ip, userAgent: req.headers['user-agent'] };
    const count = (key: VirtualKey | undefined, status: number) => {
      const labels = {
        end_user: endUserLabel(state, user),
        // A refused key is unknown to the proxy, so LiteLLM has no hash for it: "None", for every key.
        hashed_api_key: key?.token ?? 'None',
        api_key_alias: key?.keyAlias ?? '',
        team: key?.teamId ?? '',
      };
      metrics.requests.inc({
        ...labels,
        requested_model: model,
        route: path,
        status_code: String(status),
        ...requestLabels(state, key, origin),
      });
      metrics.latency.observe(
        {
          hashed_api_key: labels.hashed_api_key,
          api_key_alias: labels.api_key_alias,
          requested_model: model,
        },
        (state.now() - started) / 1000,
      );
      if (key && status >= 400) logSpend(key, requestId, path, model, user, 0, 0, 'failure', status, started);
    };
    const refusal = value ? state.refusal(value) : 'unknown';
    if (refusal) {
      count(undefined, 401);
      const flavour = value ? state.keys.get(hashKey(value))?.flavour : undefined;
      // A key OpenAI issued is refused the way OpenAI refuses it; the rest as LiteLLM does.
      if (flavour === 'openai') await sendOpenAiKeyRefusal(reply, value!);
      else await sendKeyRefusal(reply, refusal, value);
      return undefined;
    }
    // A revoked key still inside its propagation delay is found even when already deleted.
    const key = state.keys.get(hashKey(value!))!;
    const faults = state.faults.get(key.token) ?? {};
    if (faults.latencyMs) await sleep(faults.latencyMs);
    const fail = async (status: number, message: string, type: string, code: string | null) => {
      count(key, status);
      await openAiError(reply, status, message, type, code);
      return undefined;
    };
    if (faults.status)
      return fail(faults.status, `injected status ${faults.status}`, 'injected_fault', String(faults.status));
    if (faults.deniedRoutes?.includes(kind)) {
      return fail(
        403,
        `key not allowed to access route ${kind}`,
        'key_route_access_denied',
        'route_access_denied',
      );
    }
    // Only LiteLLM teams must exist: other gateways' owners (workspace, project, account) are not teams.
    const team = key.flavour === 'litellm' ? missingTeam(state, key.teamId) : undefined;
    if (team) {
      count(key, 404);
      await liteLlmError(reply, 404, teamMissingMessage(team), 'auth_error');
      return undefined;
    }
    if (kind !== 'models' && key.models.length > 0 && !key.models.includes(model)) {
      count(key, 403);
      await liteLlmError(
        reply,
        403,
        `key not allowed to access model. This key can only access models=${JSON.stringify(key.models)}. Tried to access ${model}`,
        'key_model_access_denied',
        'model',
      );
      return undefined;
    }
    if (!MODELS[model])
      return fail(404, `The model \`${model}\` does not exist`, 'invalid_request_error', 'model_not_found');
    if (key.maxBudget !== null && key.spend >= key.maxBudget) {
      return fail(
        400,
        `Budget has been exceeded! Current cost: ${key.spend}`,
        'budget_exceeded',
        'budget_exceeded',
      );
    }
    // /v1/models is answered by the proxy itself; everything else goes through the router.
    if (kind !== 'models' && cooldownLeftS(state) > 0) {
      count(key, 429);
      await sendNoDeployments(reply, state, model);
      return undefined;
    }
    if (state.facts.upstreamMissingRoutes.includes(path)) {
      recordUpstreamFailure(state, 404);
      count(key, 404);
      await liteLlmError(
        reply,
        404,
        `litellm.NotFoundError: NotFoundError: OpenAIException - 404 page not found (${path})`,
        'None',
      );
      return undefined;
    }
    if (state.failsNow(key.token)) return fail(500, 'injected upstream failure', 'server_error', null);
    return { key, started, user, requestId, origin };
  }

  function logSpend(
    key: VirtualKey,
    requestId: string,
    path: string,
    model: string,
    user: string,
    promptTokens: number,
    completionTokens: number,
    status: 'success' | 'failure',
    statusCode: number,
    started: number,
  ) {
    const total = promptTokens + completionTokens;
    const spend = ((MODELS[model]?.pricePer1k ?? 0) * total) / 1000;
    key.spend += spend;
    recordSpendRow(state, {
      request_id: requestId,
      call_type: path.replace('/v1/', ''),
      // LiteLLM writes a failed call's row without the key (measured on 1.110): per-key failures are
      // only bounded by the log's unattributed ones.
      api_key: status === 'failure' ? '' : key.token,
      spend,
      total_tokens: total,
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      startTime: new Date(started).toISOString(),
      endTime: new Date(state.now()).toISOString(),
      model,
      user: key.userId ?? '',
      end_user: user,
      status,
      metadata: {
        user_api_key_alias: key.keyAlias,
        user_api_key_team_id: key.teamId,
        status_code: statusCode,
      },
    });
    return spend;
  }

  /** Records a successful call's usage in metrics and the spend log. */
  function succeed(ctx: Admitted, path: string, model: string, prompt: number, completion: number) {
    const key = ctx.key;
    key.lastActive = new Date(state.now()).toISOString();
    const labels = {
      end_user: endUserLabel(state, ctx.user),
      hashed_api_key: key.token,
      api_key_alias: key.keyAlias ?? '',
      team: key.teamId ?? '',
    };
    metrics.requests.inc({
      ...labels,
      requested_model: model,
      route: path,
      status_code: '200',
      ...requestLabels(state, key, ctx.origin),
    });
    metrics.latency.observe(
      { hashed_api_key: key.token, api_key_alias: labels.api_key_alias, requested_model: model },
      (state.now() - ctx.started) / 1000,
    );
    metrics.tokens.inc({ ...labels, model }, prompt + completion);
    const spend = logSpend(
      key,
      ctx.requestId,
      path,
      model,
      ctx.user,
      prompt,
      completion,
      'success',
      200,
      ctx.started,
    );
    metrics.spend.inc({ ...labels, model }, spend);
  }

  app.get('/v1/models', async (req, reply) => {
    const ctx = await admit(req, reply, '/v1/models', 'models', 'gpt-4o-mini');
    if (!ctx) return reply;
    const key = ctx.key;
    const ids = Object.keys(MODELS).filter((id) => key.models.length === 0 || key.models.includes(id));
    succeed(ctx, '/v1/models', 'gpt-4o-mini', 0, 0);
    return {
      object: 'list',
      data: ids.map((id) => ({ id, object: 'model', created: 1700000000, owned_by: 'rekey-simulator' })),
    };
  });

  app.post('/v1/chat/completions', async (req, reply) => {
    const body = (req.body ?? {}) as ChatBody;
    const model = body.model ?? '';
    const ctx = await admit(req, reply, '/v1/chat/completions', chatRouteKind(body), model);
    if (!ctx) return reply;
    const key = ctx.key;
    const prompt = tokensOf(JSON.stringify(body.messages ?? []));
    const id = `chatcmpl-${hashKey(JSON.stringify(body)).slice(0, 20)}`;
    const created = 1700000000;
    const faults = state.faults.get(key.token) ?? {};
    const tool = body.tools?.length && body.tool_choice !== 'none' ? body.tools[0] : undefined;
    /** A non-streamed chat completion with one choice. */
    const completionOf = (
      message: Record<string, unknown>,
      finishReason: string,
      completionTokens: number,
    ) => {
      succeed(ctx, '/v1/chat/completions', model, prompt, completionTokens);
      return {
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', refusal: null, ...message },
            finish_reason: finishReason,
            logprobs: null,
          },
        ],
        usage: {
          prompt_tokens: prompt,
          completion_tokens: completionTokens,
          total_tokens: prompt + completionTokens,
        },
      };
    };
    if (tool) {
      const args = JSON.stringify(sampleFor(tool.function.parameters));
      const toolCall = {
        id: `call_${id.slice(-12)}`,
        type: 'function',
        function: { name: tool.function.name, arguments: args },
      };
      return completionOf({ content: null, tool_calls: [toolCall] }, 'tool_calls', tokensOf(args));
    }
    const content =
      body.response_format?.type === 'json_schema'
        ? JSON.stringify(
            faults.schemaMismatch
              ? { unexpected: true }
              : sampleFor(body.response_format.json_schema?.schema),
          )
        : `rekey simulator (${model}) reply ${id.slice(-8)}`;
    const completion = tokensOf(content);
    if (!body.stream) return completionOf({ content }, 'stop', completion);
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'x-litellm-call-id': String(reply.getHeader('x-litellm-call-id')),
    });
    const chunk = (choices: unknown[], usage: unknown = null) =>
      raw.write(
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices, usage })}\n\n`,
      );
    chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]);
    if (faults.breakStreams) {
      // A broken stream: the connection drops mid-answer (after the client got the first chunk),
      // without finish_reason or [DONE].
      setTimeout(() => raw.destroy(), 50);
      return reply;
    }
    for (const piece of content.match(/.{1,16}/g) ?? [])
      chunk([{ index: 0, delta: { content: piece }, finish_reason: null }]);
    chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]);
    if (body.stream_options?.include_usage) {
      chunk([], { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion });
    }
    raw.end('data: [DONE]\n\n');
    succeed(ctx, '/v1/chat/completions', model, prompt, completion);
    return reply;
  });

  app.post('/v1/embeddings', async (req, reply) => {
    const body = (req.body ?? {}) as { model?: string; input?: string | string[]; user?: string };
    const model = body.model ?? '';
    const ctx = await admit(req, reply, '/v1/embeddings', 'embeddings', model);
    if (!ctx) return reply;
    const inputs = Array.isArray(body.input) ? body.input : [body.input ?? ''];
    const prompt = inputs.reduce((n, s) => n + tokensOf(s), 0);
    succeed(ctx, '/v1/embeddings', model, prompt, 0);
    return {
      object: 'list',
      data: inputs.map((text, index) => ({
        object: 'embedding',
        index,
        embedding: [...hashKey(text).slice(0, 16)].map((c) => (parseInt(c, 16) - 7.5) / 7.5),
      })),
      model,
      usage: { prompt_tokens: prompt, total_tokens: prompt },
    };
  });

  app.post('/v1/responses', async (req, reply) => {
    const body = (req.body ?? {}) as { model?: string; input?: unknown; user?: string };
    const model = body.model ?? '';
    const ctx = await admit(req, reply, '/v1/responses', 'responses', model);
    if (!ctx) return reply;
    const input = tokensOf(JSON.stringify(body.input ?? ''));
    const id = hashKey(JSON.stringify(body)).slice(0, 24);
    const text = `rekey simulator (${model}) response ${id.slice(-8)}`;
    const output = tokensOf(text);
    succeed(ctx, '/v1/responses', model, input, output);
    return {
      id: `resp_${id}`,
      object: 'response',
      created_at: 1700000000,
      status: 'completed',
      model,
      output: [
        {
          type: 'message',
          id: `msg_${id}`,
          status: 'completed',
          role: 'assistant',
          content: [{ type: 'output_text', text, annotations: [] }],
        },
      ],
      parallel_tool_calls: true,
      tool_choice: 'auto',
      tools: [],
      error: null,
      incomplete_details: null,
      usage: {
        input_tokens: input,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: output,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: input + output,
      },
    };
  });
}
