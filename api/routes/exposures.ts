// /v1/exposures: leak alerts from secret scanners. The POST endpoints are authenticated by the
// scanner's signature over the raw body (api/exposures/signatures.ts), not by a rekey bearer token, so
// they live outside the /v1 token check, with a raw-body parser of their own; the GET endpoints are
// ordinary /v1 routes for viewers and operators. A leaked token is fingerprinted on receipt and never
// stored, logged, answered or sent to Temporal (api/exposures/handle-leak.ts).
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { EXPOSURE_SOURCES } from '../../domain/exposures';
import { exposureRecordSchema } from '../../domain/exposure-records';
import type { ApiDeps } from '../deps';
import { principalOf, requireRole } from '../auth';
import { HttpProblem, NotFound } from '../errors';
import { MessageSigner } from '../message-signing';
import { FingerprintIndex } from '../exposures/fingerprint-index';
import { handleLeak, type LeakContext, type LeakOutcome } from '../exposures/handle-leak';
import {
  gitguardianLeak,
  githubPartnerLeaks,
  githubWebhookLeak,
  MalformedAlert,
  type ReportedLeak,
} from '../exposures/payloads';
import {
  SignatureRefused,
  verifyGitguardian,
  verifyGithubPartner,
  verifyGithubWebhook,
} from '../exposures/signatures';

/** Alert bodies larger than this are refused unread (GitHub caps webhook payloads at 25 MB; alerts are small). */
const MAX_ALERT_BYTES = 1024 * 1024;

const unconfigured = (what: string) =>
  new HttpProblem(503, 'Service unavailable', `this API has no ${what} configured`);

const header = (req: FastifyRequest, name: string) => {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
};

const alertAnswer = z.looseObject({}).describe('the alert record(s): never the token');

/** The signed scanner endpoints, registered outside the bearer-token check (buildApp, prefix /v1). */
export function exposureWebhookRoutes(deps: ApiDeps): FastifyPluginAsync {
  // eslint-disable-next-line @typescript-eslint/require-await -- Fastify plugins are async by contract
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    const ex = deps.exposures;
    const ctx: LeakContext | undefined = ex && {
      temporal: deps.temporal,
      signer: deps.signer ?? MessageSigner.ephemeral(),
      taskQueue: deps.taskQueue,
      registry: deps.registry,
      records: ex.records,
      index:
        ex.index ??
        new FingerprintIndex(deps.registry, (ref) => {
          if (!deps.secretStoreFor) throw new Error('no secret store configured');
          return deps.secretStoreFor(ref);
        }),
      now: ex.now ?? Date.now,
      inFlight: new Map(),
    };

    // HMAC and ECDSA are over the bytes as sent: this scope reads every body as a Buffer.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_ALERT_BYTES }, (_req, body, done) =>
      done(null, body),
    );
    app.setErrorHandler((err, req) => {
      if (err instanceof SignatureRefused) {
        // Neither the body nor the signature is logged: only which check refused it.
        req.log.warn({ exposureRefused: err.message }, 'exposure alert refused');
        throw new HttpProblem(401, 'Unauthorized', err.message);
      }
      if (err instanceof MalformedAlert) throw new HttpProblem(400, 'Bad request', err.message);
      throw err;
    });

    const bodyOf = (req: FastifyRequest): Buffer => {
      // Every scanner sends JSON (a GitHub webhook must be set to content type application/json).
      // No body at all is an unsigned request (401, below); a body of another type is refused unread.
      const type = String(req.headers['content-type'] ?? '')
        .split(';')[0]!
        .trim()
        .toLowerCase();
      if (type !== '' && type !== 'application/json') {
        throw new HttpProblem(415, 'Unsupported media type', 'an alert is application/json');
      }
      if (!Buffer.isBuffer(req.body)) throw new SignatureRefused('a signed body is required');
      return req.body;
    };
    const run = async (leaks: ReportedLeak[]): Promise<LeakOutcome[]> => {
      if (!ctx) throw unconfigured('exposure store');
      const out: LeakOutcome[] = [];
      for (const leak of leaks) out.push(await handleLeak(ctx, leak));
      return out;
    };
    const statusOf = (outcomes: LeakOutcome[]) => (outcomes.every((o) => o.existing) ? 200 : 202);
    const response = { 200: alertAnswer, 202: alertAnswer };

    app.post(
      '/exposures/github',
      {
        schema: {
          response,
          description:
            'GitHub secret scanning: the `secret_scanning_alert` webhook (X-GitHub-Event, X-Hub-Signature-256) or ' +
            'the partner-program payload (GITHUB-PUBLIC-KEY-IDENTIFIER/-SIGNATURE). A match starts or escalates an ' +
            'emergency rotation; the webhook carries no secret value and is recorded as unmatchable.',
        },
      },
      async (req, reply) => {
        const body = bodyOf(req);
        const partnerSig = header(req, 'github-public-key-signature');
        if (partnerSig !== undefined) {
          if (!ex?.githubPublicKeys) throw unconfigured('GitHub secret-scanning public keys');
          verifyGithubPartner(
            ex.githubPublicKeys,
            body,
            header(req, 'github-public-key-identifier'),
            partnerSig,
          );
          const outcomes = await run(githubPartnerLeaks(body));
          return reply.code(statusOf(outcomes)).send({ alerts: outcomes.map((o) => o.record) });
        }
        if (!ex?.githubWebhookSecret) throw unconfigured('GitHub webhook secret');
        verifyGithubWebhook(ex.githubWebhookSecret, body, header(req, 'x-hub-signature-256'));
        const event = header(req, 'x-github-event');
        if (event === 'ping') return reply.code(200).send({ pong: true });
        if (event !== 'secret_scanning_alert') {
          return reply.code(202).send({ ignored: `event ${String(event).slice(0, 60)} is not read` });
        }
        const leak = githubWebhookLeak(body);
        if (!['created', 'reopened', 'publicly_leaked'].includes(leak.action)) {
          return reply.code(202).send({ ignored: `action ${leak.action.slice(0, 60)} needs no rotation` });
        }
        const [outcome] = await run([leak]);
        return reply.code(statusOf([outcome!])).send(outcome!.record);
      },
    );

    app.post(
      '/exposures/gitguardian',
      {
        schema: {
          response,
          description:
            'GitGuardian custom webhook (Gitguardian-Signature over Timestamp + signature token; stale Timestamps ' +
            'refused). Incidents are matched by their hmsl_hash (SHA-256 of the secret).',
        },
      },
      async (req, reply) => {
        const body = bodyOf(req);
        if (!ex?.gitguardianToken) throw unconfigured('GitGuardian signature token');
        verifyGitguardian(
          ex.gitguardianToken,
          body,
          header(req, 'timestamp'),
          header(req, 'gitguardian-signature'),
          { nowMs: (ex.now ?? Date.now)(), toleranceSeconds: ex.gitguardianToleranceSeconds ?? 300 },
        );
        const leak = gitguardianLeak(body);
        if (!leak) return reply.code(202).send({ ignored: 'the event is about no incident' });
        const [outcome] = await run([leak]);
        return reply.code(statusOf([outcome!])).send(outcome!.record);
      },
    );
  };
}

/** The record as answered: the fingerprint schema's transform cannot encode, its plain string can. */
const recordResponse = exposureRecordSchema.extend({
  fingerprint: z.string().optional().describe('the leaked token’s fingerprint (sha256: + 12 hex)'),
});

const recordParams = z.object({
  source: z.enum(EXPOSURE_SOURCES),
  alertId: z.string().min(1).max(200),
});

/** GET /v1/exposures[/:source/:alertId], behind the /v1 bearer-token check. */
export function exposureReadRoutes(deps: ApiDeps): FastifyPluginAsync {
  // eslint-disable-next-line @typescript-eslint/require-await -- Fastify plugins are async by contract
  return async (plain: FastifyInstance) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    const records = () => {
      if (!deps.exposures) throw unconfigured('exposure store');
      return deps.exposures.records;
    };
    app.get(
      '/exposures',
      {
        schema: {
          querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) }),
          response: { 200: z.object({ exposures: z.array(recordResponse) }) },
          description: 'Leak alerts rekey received, newest first (viewer or operator).',
        },
      },
      async (req) => {
        requireRole(principalOf(req), 'viewer', 'operator');
        return { exposures: await records().list(req.query.limit) };
      },
    );
    app.get(
      '/exposures/:source/:alertId',
      {
        schema: {
          params: recordParams,
          response: { 200: recordResponse },
          description: 'One leak alert as rekey recorded it (viewer or operator).',
        },
      },
      async (req) => {
        requireRole(principalOf(req), 'viewer', 'operator');
        const r = await records().get(req.params.source, req.params.alertId);
        if (!r) throw NotFound(`no exposure ${req.params.source}/${req.params.alertId}`);
        return r;
      },
    );
  };
}
