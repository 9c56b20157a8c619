// /docs: Swagger UI over /openapi.json, from local files only.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';

// Swagger UI's files as @fastify/swagger-ui (pinned) ships them, served here so that /docs needs no
// internet access. Its plugin is not registered: it loads @fastify/static, whose ESM-only
// dependencies jest's CommonJS runtime cannot load, and three fixed files need no static server.
const SWAGGER_UI_DIR = path.join(path.dirname(require.resolve('@fastify/swagger-ui/package.json')), 'static');
const DOCS_ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
};
const DOCS_INITIALIZER = `window.onload = function () {
  window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, validatorUrl: null });
};
`;
const DOCS_PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>rekey API</title>
    <link rel="stylesheet" href="/docs/swagger-ui.css" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js"></script>
    <script src="/docs/swagger-initializer.js"></script>
  </body>
</html>
`;

/** The documentation page and its three files, answered without a token. */
// eslint-disable-next-line @typescript-eslint/require-await -- Fastify plugins are async by contract
export const docsPlugin: FastifyPluginAsync = async (plain) => {
  const app = plain.withTypeProvider<ZodTypeProvider>();
  const open = { tags: ['operations'], security: [] };
  app.get(
    '/docs',
    {
      schema: {
        ...open,
        summary: 'This API documentation (Swagger UI)',
        response: { 200: { description: 'HTML page', content: { 'text/html': { schema: z.string() } } } },
      },
    },
    (_req, reply) => {
      reply.type('text/html; charset=utf-8');
      return DOCS_PAGE;
    },
  );
  app.get(
    '/docs/:asset',
    {
      schema: {
        ...open,
        summary: 'A file of the documentation page',
        params: z.object({
          asset: z.enum([...Object.keys(DOCS_ASSETS), 'swagger-initializer.js']).describe('file name'),
        }),
        response: {
          200: {
            description: 'stylesheet or script',
            content: { 'text/css': { schema: z.string() }, 'text/javascript': { schema: z.string() } },
          },
        },
      },
    },
    async (req, reply) => {
      const { asset } = req.params;
      if (asset === 'swagger-initializer.js') {
        reply.type('text/javascript; charset=utf-8');
        return DOCS_INITIALIZER;
      }
      reply.type(DOCS_ASSETS[asset]!).header('cache-control', 'public, max-age=3600');
      return readFile(path.join(SWAGGER_UI_DIR, asset), 'utf8');
    },
  );
};
