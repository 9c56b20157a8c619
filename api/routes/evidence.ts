// GET /v1/rotations/:id/evidence: the archived bundle, as JSON or (Accept: text/markdown) Markdown.
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { RotationStatus } from '../../workflows/messages';
import type { ApiDeps } from '../app';
import { principalOf, requireRole } from '../auth';
import { HttpProblem, NotFound } from '../errors';
import { renderEvidenceMarkdown } from '../evidence-markdown';
import { parseRotationId } from './rotation-id';

export function evidenceRoutes(deps: ApiDeps): FastifyPluginAsync {
  // eslint-disable-next-line @typescript-eslint/require-await -- Fastify plugins are async by contract
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    app.get(
      '/rotations/:id/evidence',
      {
        schema: {
          params: z.object({ id: z.string().max(400) }),
          description:
            'The evidence bundle of a finished rotation: JSON by default, Markdown with Accept: text/markdown.',
        },
      },
      async (req, reply) => {
        requireRole(principalOf(req), 'viewer', 'requester', 'approver', 'operator');
        parseRotationId(req.params.id);
        if (!deps.evidence) {
          throw new HttpProblem(503, 'Service unavailable', 'this API has no evidence store configured');
        }
        const found = await deps.evidence.read(req.params.id);
        if (!found) {
          throw NotFound(`no evidence for ${req.params.id} yet: bundles are written when a rotation ends`);
        }
        if (wantsMarkdown(req.headers.accept)) {
          return reply
            .type('text/markdown; charset=utf-8')
            .send(renderEvidenceMarkdown(found.document.bundle as RotationStatus, found.record));
        }
        // The store's location is a server path: not the reader's business.
        const { location: _location, ...chain } = found.record;
        return { ...chain, ...found.document };
      },
    );
  };
}

/** Markdown when the client names text/markdown before (or instead of) JSON; JSON otherwise. */
function wantsMarkdown(accept: string | undefined): boolean {
  const types = (accept ?? '').split(',').map((t) => t.split(';')[0]!.trim().toLowerCase());
  const md = types.indexOf('text/markdown');
  const json = types.indexOf('application/json');
  return md >= 0 && (json < 0 || md < json);
}
