// The OpenAPI document, built from the routes' zod schemas as they register (an onRoute hook): this
// plugin comes before every route plugin, including those registered after buildApp returns.
import fastifySwagger, { type SwaggerTransform, type SwaggerTransformObject } from '@fastify/swagger';
import type { FastifyPluginAsync, FastifySchema } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import packageJson from '../../package.json';
import { problemResponse } from '../problem';
import { rootScoped } from './root-scope';

/**
 * Documents a route from its zod schemas, adding the problem+json answers every route can give and
 * a generic success for routes that do not describe their body yet.
 */
const documentRoute: SwaggerTransform<FastifySchema & { hide?: boolean }> = (input) => {
  const schema = input.schema ?? {};
  if (schema.hide) return jsonSchemaTransform(input);
  const declared = (schema.response ?? {}) as Record<string, unknown>;
  // /v1 routes without tags are grouped by resource (/v1/rotations/... → rotations).
  const resource = /^\/v1\/([^/]+)/.exec(input.url)?.[1];
  const out = jsonSchemaTransform({
    ...input,
    schema: {
      ...schema,
      ...(schema.tags === undefined && resource ? { tags: [resource] } : {}),
      response: {
        '4XX': problemResponse('client error (RFC 9457 problem details)'),
        '5XX': problemResponse('server error (RFC 9457 problem details)'),
        ...declared,
      },
    },
  });
  if (!Object.keys(declared).some((code) => code.startsWith('2'))) {
    const response = out.schema.response as Record<string, unknown>;
    out.schema.response = { '2XX': { description: 'success (body not described yet)' }, ...response };
  }
  return out;
};

/** Adds the zod registry's schemas as components, leaving out input variants nothing refers to. */
const documentObject: SwaggerTransformObject = (input) => {
  const doc = jsonSchemaTransformObject(input) as { components?: { schemas?: Record<string, unknown> } };
  const schemas = doc.components?.schemas ?? {};
  const text = JSON.stringify({ ...doc, components: { ...doc.components, schemas: {} } });
  for (const name of Object.keys(schemas)) {
    if (name.endsWith('Input') && !text.includes(`#/components/schemas/${name}"`)) delete schemas[name];
  }
  return doc as ReturnType<SwaggerTransformObject>;
};

/** @fastify/swagger with rekey's document: info, bearer security, the route and object transforms. */
export const swaggerPlugin: FastifyPluginAsync = rootScoped(async (app) => {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'rekey',
        version: packageJson.version,
        description:
          'Rotates the API key of an AI gateway as a Temporal workflow. Errors are RFC 9457 problem details; ' +
          'every answer carries an x-request-id header (a sane client X-Request-Id is kept).',
      },
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description: 'a token whose SHA-256 is configured with a principal and roles',
          },
        },
      },
      security: [{ bearerAuth: [] }],
    },
    transform: documentRoute,
    transformObject: documentObject,
  });
});
