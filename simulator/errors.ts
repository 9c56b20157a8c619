// Error bodies as the real APIs send them: OpenAI-style for inference, LiteLLM's ProxyException shape
// for its admin API, OpenRouter's `{error: {code, message}}` for its management API.
import type { FastifyReply } from 'fastify';

/** OpenAI-style error: `{error: {message, type, param, code}}`. */
export function openAiError(
  reply: FastifyReply,
  status: number,
  message: string,
  type: string,
  code: string | null,
) {
  return reply.code(status).send({ error: { message, type, param: null, code } });
}

/** LiteLLM ProxyException: code is always a string, param a string. */
export function liteLlmError(
  reply: FastifyReply,
  status: number,
  message: string,
  type: string,
  param = 'None',
) {
  return reply.code(status).send({ error: { message, type, param, code: String(status) } });
}

/** OpenRouter error: the HTTP status repeated as a number in `error.code`. */
export function openRouterError(reply: FastifyReply, status: number, message: string) {
  return reply.code(status).send({ error: { code: status, message } });
}

/** The bearer token of a request, if any. */
export function bearer(authorization: string | undefined): string | undefined {
  const m = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
  return m?.[1]?.trim();
}
