// Request bodies in YAML: the seed's policy template is YAML; JSON works as well.
import type { FastifyPluginAsync } from 'fastify';
import { parse as parseYaml } from 'yaml';
import { HttpProblem } from '../errors';
import { rootScoped } from './root-scope';

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml'];

/** Parses YAML bodies like JSON ones; a body that is not YAML is a 400 naming the parser's first line. */
// eslint-disable-next-line @typescript-eslint/require-await -- Fastify plugins are async by contract
export const yamlBodyPlugin: FastifyPluginAsync = rootScoped(async (app) => {
  for (const type of YAML_TYPES) {
    app.addContentTypeParser(type, { parseAs: 'string' }, (_req, body, done) => {
      try {
        done(null, parseYaml(body as string) as unknown);
      } catch (err) {
        done(
          new HttpProblem(
            400,
            'Bad request',
            `the body is not valid YAML: ${(err as Error).message.split('\n')[0]}`,
          ),
          undefined,
        );
      }
    });
  }
});
