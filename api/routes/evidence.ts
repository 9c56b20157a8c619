// GET /v1/rotations/:id/evidence: the archived bundle, as JSON or (Accept: text/markdown) Markdown.
// The stored bundle is validated against the schema of its version before either is served.
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { checkEvidenceBundle, evidenceBundleSchema } from '../../domain/evidence/bundle-schema';
import { renderEvidenceMarkdown } from '../../domain/evidence/markdown';
import type { ApiDeps } from '../deps';
import { principalOf, requireRole } from '../auth';
import { HttpProblem, NotFound } from '../errors';
import { parseRotationId, rotationIdParams } from './rotation-id';

const evidenceResponse = z
  .object({
    rotationId: z.string(),
    sha256: z.string().describe('SHA-256 of the stored document (the chain link)'),
    previousSha256: z.string().nullable().describe('SHA-256 of the bundle stored before it'),
    writtenAt: z.string(),
    bundle: evidenceBundleSchema,
  })
  .describe('the stored evidence bundle and its place in the hash chain');

export function evidenceRoutes(deps: ApiDeps): FastifyPluginAsync {
  // eslint-disable-next-line @typescript-eslint/require-await -- Fastify plugins are async by contract
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    app.get(
      '/rotations/:id/evidence',
      {
        schema: {
          params: rotationIdParams,
          description:
            'The evidence bundle of a finished rotation: JSON by default, Markdown with Accept: text/markdown.',
          response: { 200: evidenceResponse },
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
        const check = checkEvidenceBundle(found.document.bundle);
        if (!check.ok) {
          // The request is fine; the stored document is not something this rekey can serve.
          throw new HttpProblem(500, 'Evidence bundle unreadable', `${req.params.id}: ${check.message}`, {
            schemaVersion: check.schemaVersion,
          });
        }
        if (wantsMarkdown(req.headers.accept)) {
          // A string with a non-JSON content type skips the 200 serializer, which describes the JSON form;
          // the type provider only knows that form, hence the cast.
          const markdown = renderEvidenceMarkdown(check.bundle, found.record);
          return reply.type('text/markdown; charset=utf-8').send(markdown as never);
        }
        return {
          rotationId: found.document.rotationId,
          sha256: found.record.sha256,
          previousSha256: found.record.previousSha256,
          writtenAt: found.document.writtenAt,
          bundle: check.bundle,
        };
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
