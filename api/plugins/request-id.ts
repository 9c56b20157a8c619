// X-Request-Id: a client's sane id is kept, anything else gets a fresh UUID, and every answer says which.
import type { FastifyPluginAsync, FastifyServerOptions } from 'fastify';
import { rootScoped } from './root-scope';

/** A client's X-Request-Id is kept when it is a sane token; anything else gets a fresh UUID. */
const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Fastify's `genReqId` option: the client's X-Request-Id when sane, else a fresh UUID. */
export const requestIdOf: NonNullable<FastifyServerOptions['genReqId']> = (req) => {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : crypto.randomUUID();
};

/** Echoes the request id on every answer, errors and unmatched routes included. */
// eslint-disable-next-line @typescript-eslint/require-await -- Fastify plugins are async by contract
export const requestIdPlugin: FastifyPluginAsync = rootScoped(async (app) => {
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    done();
  });
});
