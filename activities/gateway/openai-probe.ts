// Canary and negative-test calls through the gateway's OpenAI-compatible API with the official `openai`
// SDK, exactly as apps call it. The key is handed in by the activity that resolved it and goes no
// further: reports carry request ids, statuses, models, latencies and tokens only.
import OpenAI from 'openai';
import type { Route } from '../../domain/policy';
import type { GatewayProbe } from '../../domain/ports';
import type { CanaryReport, CanaryRequest } from '../../domain/activity-io';

/** Models the canary uses and how long one call may take. */
export interface ProbeOptions {
  chatModel: string;
  embeddingModel: string;
  /** Calls slower than this fail the route with `timeout`. */
  timeoutMs: number;
  /** End-user id the canary sends, so its traffic is told apart from consumers'. */
  canaryUser: string;
  /**
   * The authenticated call behind `status` (negative test, preflight): `models` lists models, which
   * LiteLLM authenticates; `key` reads the current key (`GET {base}/key`), for gateways such as
   * OpenRouter that serve `/models` without authentication and would make a revoked key look alive.
   */
  statusCheck: 'models' | 'key';
}

export const DEFAULT_PROBE_OPTIONS: ProbeOptions = {
  chatModel: 'gpt-4o-mini',
  embeddingModel: 'text-embedding-3-small',
  timeoutMs: 30_000,
  canaryUser: 'rekey-canary',
  statusCheck: 'models',
};

const answerSchema = {
  type: 'object',
  properties: { status: { type: 'string' }, healthy: { type: 'boolean' } },
  required: ['status', 'healthy'],
  additionalProperties: false,
} as const;

type Outcome = Pick<CanaryRequest, 'requestId' | 'model' | 'tokens'> & { problem?: CanaryRequest['reason'] };

/** Why a failed call failed, in the canary's vocabulary. */
export function reasonFor(err: unknown): { status: number; reason: NonNullable<CanaryRequest['reason']> } {
  // The SDK aborts a call at its timeout; under some runtimes the abort surfaces as a plain
  // connection error or AbortError rather than APIConnectionTimeoutError.
  const text = err instanceof Error ? `${err.name} ${err.message}` : '';
  if (err instanceof OpenAI.APIConnectionTimeoutError || /timed? ?out|abort/i.test(text)) {
    return { status: 0, reason: 'timeout' };
  }
  if (err instanceof OpenAI.APIError && typeof err.status === 'number') {
    const status = err.status;
    if (status === 401) return { status, reason: 'auth' };
    if (status === 403 || status === 404) return { status, reason: 'route-denied' };
    if (status === 429) return { status, reason: 'rate-limited' };
    if (status >= 500) return { status, reason: 'server-error' };
    return { status, reason: 'route-denied' };
  }
  // No HTTP answer at all: the gateway is unreachable or hung up.
  return { status: 0, reason: 'server-error' };
}

/**
 * The gateway's id of a call: LiteLLM answers it in `x-litellm-call-id` (the id its spend logs carry)
 * and sends no `x-request-id`; other gateways send `x-request-id`, which the SDK reads.
 */
export function requestIdOf(raw: { response?: Response; headers?: Headers; request_id?: string | null }) {
  const headers = raw.response?.headers ?? raw.headers;
  return headers?.get('x-litellm-call-id') ?? raw.request_id ?? headers?.get('x-request-id') ?? undefined;
}

/** True when text is JSON with every required property of the canary's answer schema, rightly typed. */
function parsesToAnswer(text: string): boolean {
  try {
    const v = JSON.parse(text) as Record<string, unknown> | null;
    return typeof v?.status === 'string' && typeof v.healthy === 'boolean';
  } catch {
    return false;
  }
}

/** A GatewayProbe on the openai SDK; `baseUrl` is the gateway's OpenAI base URL (ending in /v1). */
export function createOpenAiProbe(options: Partial<ProbeOptions> = {}): GatewayProbe {
  const opts = { ...DEFAULT_PROBE_OPTIONS, ...options };
  const clientFor = (baseUrl: string, key: string) =>
    new OpenAI({ apiKey: key, baseURL: baseUrl, maxRetries: 0, timeout: opts.timeoutMs });
  const messages = [{ role: 'user' as const, content: 'rekey canary: reply briefly' }];

  /** The outcome of a call that got a 2xx; `ok` false means the answer had the wrong shape. */
  const outcome = (
    requestId: string | null | undefined,
    data: { model?: string; usage?: { total_tokens?: number } | null },
    ok: boolean,
    problem: CanaryRequest['reason'] = 'schema-mismatch',
  ): Outcome => ({
    requestId: requestId ?? undefined,
    model: data.model,
    tokens: data.usage?.total_tokens,
    ...(ok ? {} : { problem }),
  });
  const chat = (ai: OpenAI, extra: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming> = {}) =>
    ai.chat.completions
      .create({ model: opts.chatModel, messages, user: opts.canaryUser, ...extra })
      .withResponse();

  const routes: Record<Route, (ai: OpenAI) => Promise<Outcome>> = {
    'chat-completions': async (ai) => {
      const { data, ...raw } = await chat(ai, { max_tokens: 16 });
      return outcome(requestIdOf(raw), data, typeof data.choices[0]?.message.content === 'string');
    },
    streaming: async (ai) => {
      const { data: stream, ...raw } = await ai.chat.completions
        .create({
          model: opts.chatModel,
          messages,
          stream: true,
          stream_options: { include_usage: true },
          user: opts.canaryUser,
        })
        .withResponse();
      let finished = false;
      const seen: { model?: string; usage?: { total_tokens?: number } } = {};
      try {
        for await (const chunk of stream) {
          seen.model = chunk.model;
          if (chunk.choices[0]?.finish_reason) finished = true;
          if (chunk.usage) seen.usage = chunk.usage;
        }
      } catch {
        // The stream broke off or could not be parsed after a 200: that is the stream's fault.
        finished = false;
      }
      return outcome(requestIdOf(raw), seen, finished, 'malformed-stream');
    },
    'tool-calls': async (ai) => {
      const { data, ...raw } = await chat(ai, {
        tool_choice: 'required',
        tools: [{ type: 'function', function: { name: 'report_health', parameters: answerSchema } }],
      });
      const call = data.choices[0]?.message.tool_calls?.[0];
      return outcome(
        requestIdOf(raw),
        data,
        call?.type === 'function' && parsesToAnswer(call.function.arguments),
      );
    },
    'structured-output': async (ai) => {
      const { data, ...raw } = await chat(ai, {
        response_format: {
          type: 'json_schema',
          json_schema: { name: 'health', schema: answerSchema, strict: true },
        },
      });
      return outcome(requestIdOf(raw), data, parsesToAnswer(data.choices[0]?.message.content ?? ''));
    },
    embeddings: async (ai) => {
      const { data, ...raw } = await ai.embeddings
        .create({ model: opts.embeddingModel, input: 'rekey canary', user: opts.canaryUser })
        .withResponse();
      return outcome(requestIdOf(raw), data, (data.data[0]?.embedding.length ?? 0) > 0);
    },
    responses: async (ai) => {
      const { data, ...raw } = await ai.responses
        .create({ model: opts.chatModel, input: 'rekey canary: reply briefly', user: opts.canaryUser })
        .withResponse();
      return outcome(
        requestIdOf(raw),
        data,
        typeof data.output_text === 'string' && data.output_text.length > 0,
      );
    },
  };

  return {
    async canary(baseUrl: string, key: string, wanted: Route[]): Promise<CanaryReport> {
      const ai = clientFor(baseUrl, key);
      const requests: CanaryRequest[] = [];
      for (const route of wanted) {
        // Stop at the first failure: a route the upstream lacks makes LiteLLM cool the deployment down
        // for every app, and each further canary call would add to the failures it counts.
        if (requests.some((r) => !r.ok)) {
          requests.push({
            route,
            status: 0,
            latencyMs: 0,
            ok: false,
            attempted: false,
            reason: 'not-attempted',
          });
          continue;
        }
        const started = Date.now();
        try {
          const out = await routes[route](ai);
          requests.push({
            route,
            status: 200,
            latencyMs: Date.now() - started,
            ok: out.problem === undefined,
            ...(out.requestId ? { requestId: out.requestId } : {}),
            ...(out.model ? { model: out.model } : {}),
            ...(out.tokens !== undefined ? { tokens: out.tokens } : {}),
            ...(out.problem ? { reason: out.problem } : {}),
          });
        } catch (err) {
          const { status, reason: classified } = reasonFor(err);
          // A connection error at the timeout is the timeout (some runtimes lose the abort's type).
          const reason =
            classified === 'server-error' && status === 0 && Date.now() - started >= opts.timeoutMs
              ? 'timeout'
              : classified;
          const requestId =
            err instanceof OpenAI.APIError
              ? requestIdOf({ headers: err.headers as Headers | undefined, request_id: err.requestID })
              : undefined;
          requests.push({
            route,
            status,
            latencyMs: Date.now() - started,
            ok: false,
            reason,
            ...(requestId ? { requestId } : {}),
          });
        }
      }
      return { passed: requests.every((r) => r.ok), requests };
    },

    async status(baseUrl: string, key: string): Promise<number> {
      if (opts.statusCheck === 'key') {
        const res = await fetch(`${baseUrl.replace(/\/+$/, '')}/key`, {
          headers: { authorization: `Bearer ${key}` },
          signal: AbortSignal.timeout(opts.timeoutMs),
        });
        await res.body?.cancel();
        return res.status;
      }
      try {
        await clientFor(baseUrl, key).models.list();
        return 200;
      } catch (err) {
        if (err instanceof OpenAI.APIError && typeof err.status === 'number') return err.status;
        throw err;
      }
    },
  };
}
