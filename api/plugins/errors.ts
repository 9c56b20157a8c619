// The one place errors become HTTP answers: typed problems, validation errors, Temporal being down and
// everything else map to RFC 9457 application/problem+json (api/problem.ts); a known path asked with a
// method it does not answer is a 405 with Allow, an unknown path a 404. What Fastify or Node's HTTP
// parser answers before any route runs (a too-long param, headers too large) gets the same body through
// two Fastify options buildApp passes: frameworkErrors and clientErrorHandler.
import { randomUUID } from 'node:crypto';
import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type {
  FastifyError,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
  FastifyServerOptions,
} from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { HttpProblem, MethodNotAllowed, NotFound, ServiceUnavailable } from '../errors';
import { problemBody, statusTitle } from '../problem';
import { TEMPORAL_RETRY_AFTER_SECONDS, temporalUnavailable } from '../temporal-errors';
import { rootScoped } from './root-scope';

const PROBLEM = 'application/problem+json';

function sendProblem(req: FastifyRequest, reply: FastifyReply, p: HttpProblem) {
  const body = { ...problemBody(p.status, p.title, p.message, req.url, req.id), ...p.extra };
  return reply.code(p.status).headers(p.headers).type(PROBLEM).send(body);
}

/** The problem an error answers with; Fastify's own 4xx errors keep their status. */
function problemOf(err: FastifyError, req: FastifyRequest): HttpProblem {
  if (err instanceof HttpProblem) return err;
  if (hasZodFastifySchemaValidationErrors(err)) {
    const errors = err.validation.map((v) => ({
      path: v.instancePath.replace(/^\//, '').replaceAll('/', '.'),
      message: v.message,
    }));
    const detail = `${errors.length} field(s) invalid: ${errors.map((e) => e.path || '(body)').join(', ')}`;
    return new HttpProblem(400, 'Invalid request', detail, { errors });
  }
  const grpc = temporalUnavailable(err);
  if (grpc) {
    req.log.warn({ err: { message: err.message, grpcStatus: grpc.name } }, 'Temporal did not answer');
    // A change may have reached Temporal before its answer was lost: retrying it safely needs the same id.
    const change = req.method === 'GET' || req.method === 'HEAD' ? '' : ', with the same X-Request-Id';
    const detail = `${grpc.what} (${grpc.name}): retry in ${TEMPORAL_RETRY_AFTER_SECONDS} s${change}`;
    return ServiceUnavailable(detail, TEMPORAL_RETRY_AFTER_SECONDS);
  }
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    const type = JSON.stringify((req.headers['content-type'] ?? '').slice(0, 100));
    const detail =
      err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? `this route does not read ${type} bodies` : err.message;
    return new HttpProblem(status, statusTitle(status), detail);
  }
  req.log.error({ err: { message: err.message, name: err.name } }, 'request failed');
  const detail = 'the request could not be completed; see the server log with this requestId';
  return new HttpProblem(500, 'Internal error', detail);
}

/** The error handler, the 405/404 of unmatched requests, and the not-found handler of every route. */
// eslint-disable-next-line @typescript-eslint/require-await -- Fastify plugins are async by contract
export const errorsPlugin: FastifyPluginAsync = rootScoped(async (app) => {
  app.setErrorHandler((err: FastifyError, req, reply) => sendProblem(req, reply, problemOf(err, req)));

  // Fastify has no 405: the methods routes were registered with, tried against the path at hand.
  const methods = new Set<string>();
  app.addHook('onRoute', (route) => {
    for (const m of [route.method].flat()) methods.add(m);
  });
  // onRequest, before a body is read: an unmatched request is answered without parsing what it sent.
  app.addHook('onRequest', (req, _reply, done) => {
    if (!req.is404) return done();
    const path = req.url.split('?')[0] ?? '';
    const allow = [...methods].filter((m) => app.findRoute({ method: m, url: path }) !== null).sort();
    done(
      allow.length ? MethodNotAllowed(req.method, path, allow) : NotFound(`no route ${req.method} ${path}`),
    );
  });
  app.setNotFoundHandler((req) => {
    throw NotFound(`no route ${req.method} ${req.url.split('?')[0]}`);
  });
});

/** Fastify's `frameworkErrors` option: a param over maxParamLength (414) or a bad URL (400), as problems. */
export const frameworkErrors: NonNullable<FastifyServerOptions['frameworkErrors']> = (err, req, reply) => {
  const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 400;
  const detail = status === 414 ? 'a path segment is longer than any rotation id can be' : err.message;
  // No onRequest hook ran for this request: the request id header is set here.
  void sendProblem(
    req,
    reply.header('x-request-id', req.id),
    new HttpProblem(status, statusTitle(status), detail),
  );
};

/** Node's HTTP parser errors (no request exists yet) and what rekey answers them with. */
const PARSER_ERRORS: Record<string, { status: number; detail: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, detail: 'the request headers are larger than this server reads' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, detail: 'the request did not arrive in time' },
  HPE_INVALID_METHOD: { status: 501, detail: 'this server does not know that request method' },
};

/** Fastify's `clientErrorHandler` option: what Fastify's default writes, with a problem+json body. */
export function clientErrorHandler(
  err: Error & { code?: string; rawPacket?: unknown },
  socket: Socket,
): void {
  // A reset connection has nobody to answer (as in Fastify's default handler).
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  // The request line, when the parser got that far, names the path; nothing else it sent is echoed.
  const raw = Buffer.isBuffer(err.rawPacket) ? err.rawPacket.toString('latin1') : '';
  const target = /^[A-Z-]+ (\/\S*) HTTP\/1\.[01]\r\n/.exec(raw)?.[1] ?? '';
  // Node counts the request line in its header limit: a request line that alone overflows it is a 414.
  const lineEnd = raw.indexOf('\r\n');
  const { status, detail } =
    err.code === 'HPE_HEADER_OVERFLOW' && /^[A-Z-]+ \//.test(raw) && (lineEnd < 0 || lineEnd >= maxHeaderSize)
      ? { status: 414, detail: 'the request line is longer than this server reads' }
      : (PARSER_ERRORS[err.code ?? ''] ?? { status: 400, detail: 'the request is not valid HTTP/1.1' });
  const requestId = randomUUID();
  const body = JSON.stringify(problemBody(status, statusTitle(status), detail, target, requestId));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${PROBLEM}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
