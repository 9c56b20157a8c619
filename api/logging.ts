// The request log: what is redacted wherever a request is logged, and the Fastify logger option.
import type { FastifyServerOptions } from 'fastify';
import type { ApiDeps } from './deps';

/** Redacted wherever a request is logged; request bodies are never logged, `body` is a safety net. */
export const REDACT = [
  'req.headers.authorization',
  'headers.authorization',
  'req.body',
  'body',
  'key',
  'apiKey',
  'value',
  '*.key',
  '*.apiKey',
  '*.value',
];

/** Fastify's `logger` option from the deps: none, or pino with the redaction list. */
export function loggerOption(logger: ApiDeps['logger']): FastifyServerOptions['logger'] {
  return logger === undefined || logger === false
    ? false
    : // Fastify's request serializer logs method, url and addresses: no headers, no body.
      { ...(logger === true ? {} : logger), redact: REDACT };
}
