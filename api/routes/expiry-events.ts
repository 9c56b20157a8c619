// POST/OPTIONS /v1/expiry-events/azure-key-vault: Azure Event Grid deliveries of Key Vault's
// SecretNearExpiry and SecretExpired events (api/expiry-events/event-grid.ts). Event Grid cannot send a
// rekey bearer token, so this route lives outside the /v1 token check: a delivery is authenticated by
// the secret the subscription sends as a delivery property (header X-Rekey-Event-Grid-Secret, marked
// secret in Azure), and only the validation handshake is answered without it (it proves this endpoint
// is ours to Event Grid and starts nothing). An event for a registered Key Vault secret with an
// `expiry:` schedule fires that schedule now: expiryWatch reads the current version's expiry itself and
// rotates inside the lead time (one ticket per expiry, so Event Grid's retries and the schedule's own
// checks join one rotation). Events for secrets rekey does not manage are answered 202 and ignored.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { CredentialRegistry } from '../../domain/ports';
import type { ApiDeps } from '../deps';
import { HttpProblem } from '../errors';
import {
  MalformedEvent,
  parseDelivery,
  secretMatches,
  type KeyVaultExpiryEvent,
} from '../expiry-events/event-grid';
import { scheduleIdFor } from '../schedules/schedule-sync';

export const EVENT_GRID_SECRET_HEADER = 'x-rekey-event-grid-secret';
/** Event Grid batches are at most 1 MB. */
const MAX_DELIVERY_BYTES = 1024 * 1024;

const eventAnswer = z.object({
  id: z.string(),
  type: z.string(),
  outcome: z.enum([
    'expiry-check-started',
    'expiry-check-running',
    'not-ours',
    'no-expiry-schedule',
    'ignored',
  ]),
  credential: z.object({ environment: z.string(), name: z.string() }).optional(),
  scheduleId: z.string().optional(),
  expiresAt: z.string().optional(),
});
type EventAnswer = z.infer<typeof eventAnswer>;

/** The registered credential whose Key Vault secret an event names, if any. */
export function credentialOfEvent(
  registry: CredentialRegistry,
  e: Pick<KeyVaultExpiryEvent, 'vaultName' | 'vaultHost' | 'secretName'>,
): { environment: string; name: string } | undefined {
  for (const c of registry.automations?.() ?? []) {
    const secret = registry.lookup(c.name, c.environment)?.secret;
    if (secret?.backend !== 'azure-key-vault' || secret.secretName !== e.secretName) continue;
    const host = new URL(secret.vaultUrl).host.toLowerCase();
    const same = e.vaultHost ? host === e.vaultHost : host.split('.')[0] === e.vaultName.toLowerCase();
    if (same) return { environment: c.environment, name: c.name };
  }
  return undefined;
}

export function expiryEventRoutes(deps: ApiDeps): FastifyPluginAsync {
  // eslint-disable-next-line @typescript-eslint/require-await -- Fastify plugins are async by contract
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(
      ['application/json', 'application/cloudevents+json', 'application/cloudevents-batch+json'],
      { parseAs: 'string', bodyLimit: MAX_DELIVERY_BYTES },
      (_req, body: string, done) => {
        try {
          done(null, JSON.parse(body));
        } catch {
          done(new HttpProblem(400, 'Bad request', 'the delivery is not JSON'), undefined);
        }
      },
    );
    app.setErrorHandler((err) => {
      if (err instanceof MalformedEvent) throw new HttpProblem(400, 'Bad request', err.message);
      throw err;
    });

    const path = '/expiry-events/azure-key-vault';
    /** The subscription's secret; 503 while none is configured (nothing here can be verified then). */
    const configuredSecret = (): string => {
      const secret = deps.expiryEvents?.eventGridSecret;
      if (!secret) {
        throw new HttpProblem(503, 'Service unavailable', 'this API has no Event Grid secret configured');
      }
      return secret;
    };
    const authenticate = (req: FastifyRequest) => {
      const v = req.headers[EVENT_GRID_SECRET_HEADER];
      if (!secretMatches(configuredSecret(), Array.isArray(v) ? v[0] : v)) {
        req.log.warn({ eventGridRefused: 'secret' }, 'Event Grid delivery refused');
        throw new HttpProblem(
          401,
          'Unauthorized',
          `the ${EVENT_GRID_SECRET_HEADER} header is missing or wrong`,
        );
      }
    };

    // CloudEvents' abuse protection: Event Grid asks whether it may deliver, and this endpoint says yes.
    app.options(
      path,
      {
        schema: {
          description: 'CloudEvents webhook validation (WebHook-Request-Origin → WebHook-Allowed-Origin).',
        },
      },
      async (req, reply) => {
        const origin = req.headers['webhook-request-origin'];
        const value = Array.isArray(origin) ? origin[0] : origin;
        if (!value || !/^[\w.-]{1,253}$/.test(value)) {
          throw new HttpProblem(
            400,
            'Bad request',
            'a WebHook-Request-Origin header (a host name) is required',
          );
        }
        if (!deps.expiryEvents?.eventGridSecret) {
          throw new HttpProblem(503, 'Service unavailable', 'this API has no Event Grid secret configured');
        }
        return reply
          .code(200)
          .header('webhook-allowed-origin', value)
          .header('webhook-allowed-rate', '120')
          .send();
      },
    );

    app.post(
      path,
      {
        schema: {
          response: {
            200: z.union([
              z.object({ validationResponse: z.string() }),
              z.object({ events: z.array(eventAnswer) }),
            ]),
            202: z.object({ events: z.array(eventAnswer) }),
          },
          description:
            'Azure Event Grid: Key Vault SecretNearExpiry / SecretExpired events (Event Grid or CloudEvents schema), ' +
            'authenticated by the X-Rekey-Event-Grid-Secret delivery property. An event for a registered secret ' +
            'fires its expiry schedule now; the subscription validation handshake is answered.',
        },
      },
      async (req, reply) => {
        const type = String(req.headers['content-type'] ?? '')
          .split(';')[0]!
          .trim()
          .toLowerCase();
        if (req.body === undefined) throw new HttpProblem(400, 'Bad request', 'a delivery has a JSON body');
        const delivery = parseDelivery(req.body, type);
        if (delivery.kind === 'validation') {
          // The handshake proves the endpoint to Event Grid; it starts nothing, so it needs no secret,
          // but a wrong secret is still refused.
          if (req.headers[EVENT_GRID_SECRET_HEADER] !== undefined) authenticate(req);
          configuredSecret();
          req.log.info('Event Grid subscription validation answered');
          return reply.code(200).send({ validationResponse: delivery.validationCode });
        }
        authenticate(req);
        const answers: EventAnswer[] = delivery.ignored.map((e) => ({ ...e, outcome: 'ignored' as const }));
        for (const e of delivery.expiry) answers.push(await handle(e));
        const started = answers.some((a) => a.outcome === 'expiry-check-started');
        return reply.code(started ? 202 : 200).send({ events: answers });

        async function handle(e: KeyVaultExpiryEvent): Promise<EventAnswer> {
          const base = { id: e.id, type: e.type, ...(e.expiresAt ? { expiresAt: e.expiresAt } : {}) };
          const credential = credentialOfEvent(deps.registry, e);
          if (!credential) {
            req.log.info(
              { eventId: e.id, vault: e.vaultName, secret: e.secretName },
              'expiry event: not ours',
            );
            return { ...base, outcome: 'not-ours' };
          }
          const scheduleId = scheduleIdFor('expiry', credential.environment, credential.name);
          const found = { ...base, credential, scheduleId };
          try {
            const handle = deps.temporal.schedule.getHandle(scheduleId);
            const before = await handle.describe();
            if (before.info.runningActions.length > 0) return { ...found, outcome: 'expiry-check-running' };
            await handle.trigger(ScheduleOverlapPolicy.SKIP);
          } catch (err) {
            if (!(err instanceof ScheduleNotFoundError)) throw err;
            req.log.warn(
              { eventId: e.id, ...credential },
              'expiry event for a credential with no expiry schedule',
            );
            return { ...found, outcome: 'no-expiry-schedule' };
          }
          req.log.info(
            { eventId: e.id, type: e.type, ...credential, scheduleId },
            'expiry event: check started',
          );
          return { ...found, outcome: 'expiry-check-started' };
        }
      },
    );
  };
}
