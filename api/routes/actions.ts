// /v1/rotations/:id/…: what people do to a running rotation — approve or reject a gate, roll back,
// abort, extend the hold, hand over a manual replacement key, confirm a manual revocation, revoke the
// replacement key a rollback kept. Each is a Temporal update: the workflow's validator is the single
// judge, and its refusal kind maps to the status (NotAllowed → 403, NotOpen → 409, Invalid → 400). The
// principal comes from the token, never the body; the bodies are in action-schemas.ts. Every message
// carries the API's signature over it (api/message-signing.ts), without which the workflow counts
// nothing; /signal-inputs prints a signed input for on-call who send it with `temporal workflow signal`.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { z } from 'zod';
import { workflowIdFor } from '../../domain/policy';
import {
  abortUpdate,
  approveUpdate,
  escalateUpdate,
  extendHoldUpdate,
  rejectUpdate,
  replacementKeyStagedUpdate,
  revocationConfirmedUpdate,
  revokeReplacementKeyUpdate,
  rollbackUpdate,
  statusQuery,
  type Actor,
  type MessageAck,
} from '../../workflows/messages';
import { ChangeTicketKey, RotationOutcomeKey } from '../../workflows/search-attributes';
import type { ApiDeps } from '../deps';
import { principalOf, requireRole, type Principal } from '../auth';
import { SIGNAL_PROOF_TTL_MS, type MessageSigner } from '../message-signing';
import { Conflict, HttpProblem, NotAllowed, NotFound, Unprocessable } from '../errors';
import { isAbort, messageSender, UPDATE_TIMEOUT_MS } from '../rotation-messages';
import { storeProblem } from '../store-problem';
import { fingerprint } from '../../domain/fingerprint';
import {
  ackSchema,
  approvalBody,
  confirmationBody,
  escalationBody,
  extensionBody,
  idParams,
  reasonBody,
  replacementKeyBody,
  signalInputBody,
  signalInputSchema,
} from './action-schemas';
import { parseRotationId } from './rotation-id';

export function actionRoutes(deps: ApiDeps): FastifyPluginAsync {
  // eslint-disable-next-line @typescript-eslint/require-await -- Fastify plugins are async by contract
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();

    const signer: MessageSigner = deps.signer!;

    /** The caller, who must hold a role that may act at all; the workflow judges the rest. */
    const actor = (req: FastifyRequest): Principal => {
      const who = principalOf(req);
      requireRole(who, 'requester', 'approver', 'operator');
      return who;
    };
    /** The message fields the API fills: who, from the token (how they logged in goes in the proof). */
    const asActor = (who: Principal): Actor => ({ principal: who.principal, roles: who.roles });

    /** The running workflow of this rotation; 404 when unknown, 409 when it has finished. */
    async function running(id: string) {
      const { environment, credential, ticket } = parseRotationId(id);
      const handle = deps.temporal.workflow.getHandle(workflowIdFor(environment, credential));
      const described = await handle.describe().catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError) throw NotFound(`no rotation ${id}`);
        throw err;
      });
      if (described.typedSearchAttributes.get(ChangeTicketKey) !== ticket) {
        throw NotFound(`no running rotation ${id}`);
      }
      if (described.status.name !== 'RUNNING') {
        const outcome = described.typedSearchAttributes.get(RotationOutcomeKey) ?? described.status.name;
        throw Conflict(`rotation ${id} has finished (${outcome})`);
      }
      return { handle, environment, credential, ticket };
    }

    const send = messageSender({ temporal: deps.temporal, signer });

    const handOffs = keyedSerial();
    const ack = (id: string, a: MessageAck) => ({ id, accepted: a.accepted, phase: a.phase });
    const responses = (code: number) => ({ [code]: ackSchema });

    app.post(
      '/rotations/:id/approvals',
      {
        schema: {
          params: idParams,
          body: approvalBody,
          response: responses(200),
          description:
            'Approve or reject the flip or revoke gate (four-eyes: not the requester). Approving a gate ' +
            "whose evidence is 'insufficient' needs riskReason (the risk accepted on record); exceptions " +
            'record consumers still on the old key with owner, expiry and compensating control.',
        },
      },
      async (req) => {
        const who = actor(req);
        const { handle } = await running(req.params.id);
        const b = req.body;
        const id = req.params.id;
        const result =
          b.decision === 'approve'
            ? await send(
                id,
                who,
                handle,
                approveUpdate,
                {
                  ...asActor(who),
                  gate: b.gate,
                  ...(b.comment ? { comment: b.comment } : {}),
                  ...(b.breakGlassReason ? { breakGlassReason: b.breakGlassReason } : {}),
                  ...(b.riskReason ? { riskReason: b.riskReason } : {}),
                  ...(b.exceptions ? { exceptions: b.exceptions } : {}),
                },
                `approve:${req.id}`,
              )
            : await send(
                id,
                who,
                handle,
                rejectUpdate,
                { ...asActor(who), gate: b.gate, reason: (b.reason ?? b.comment)! },
                `reject:${req.id}`,
              );
        return ack(req.params.id, result);
      },
    );

    /** A message that is accepted now and takes effect at the workflow's next step: 202. */
    function acceptedRoute<B extends z.ZodType, A>(
      name: string,
      body: B,
      update: UpdateDefinition<MessageAck, [Actor & A]>,
      toArgs: (body: z.infer<B>) => A,
      description: string,
    ) {
      app.post(
        `/rotations/:id/${name}`,
        { schema: { params: idParams, body, response: responses(202), description } },
        async (req, reply) => {
          const who = actor(req);
          const { handle } = await running(req.params.id);
          const result = await send(
            req.params.id,
            who,
            handle,
            update,
            { ...asActor(who), ...toArgs(req.body as z.infer<B>) },
            `${name}:${req.id}`,
          );
          return reply.code(202).send(ack(req.params.id, result));
        },
      );
    }

    acceptedRoute(
      'rollback',
      reasonBody,
      rollbackUpdate,
      (b) => ({ reason: b.reason }),
      'Roll back: the old key is served again. Refused (409) once revocation began.',
    );
    acceptedRoute(
      'abort',
      reasonBody,
      abortUpdate,
      (b) => ({ reason: b.reason }),
      'Abort before the flip: the replacement is discarded, nothing changes for apps.',
    );
    acceptedRoute(
      'hold-extensions',
      extensionBody,
      extendHoldUpdate,
      (b) => ({
        minutes: b.minutes,
        reason: b.reason,
        ...(b.exceptions ? { exceptions: b.exceptions } : {}),
      }),
      'Operator or approver: hold and watch longer (while HOLDING, or when the hold ran out with ' +
        'exceptions), optionally recording exceptions with owner, expiry and compensating control.',
    );
    acceptedRoute(
      'revocation-confirmations',
      confirmationBody,
      revocationConfirmedUpdate,
      (b) => (b.comment ? { comment: b.comment } : {}),
      'Manual gateways: confirm the old key was revoked at the gateway.',
    );
    acceptedRoute(
      'escalations',
      escalationBody,
      escalateUpdate,
      (b) => ({ reason: b.reason }),
      'Requester, approver or operator: switch a running rotation to emergency mode (the key may be ' +
        'exposed), the reason on record: no flip approval, the canary soak ends, no drain wait; the revoke ' +
        'gate follows the emergency rule. Accepted but nothing to speed up from REVOKING on; 409 once ' +
        'rolling back or finished.',
    );
    acceptedRoute(
      'replacement-key-revocations',
      reasonBody,
      revokeReplacementKeyUpdate,
      (b) => ({ reason: b.reason }),
      'Operator or approver, after a rollback that kept the replacement key enabled: revoke that key ' +
        'once its traffic has drained (the workflow checks the drain). Refused (409) when no key was kept.',
    );

    app.post(
      '/rotations/:id/signal-inputs',
      {
        schema: {
          params: idParams,
          body: signalInputBody,
          response: { 200: signalInputSchema },
          description:
            'A signed input for `temporal workflow signal`: on-call who act through Temporal (CLI or UI) ' +
            'instead of this API send it as is. The signature binds the caller, this rotation, the ' +
            'message and its arguments, and expires (default 15 minutes, at most 60); the workflow ' +
            'refuses unsigned signals. Nothing is sent: the workflow judges the message when it arrives.',
        },
      },
      async (req) => {
        const who = actor(req);
        const { handle } = await running(req.params.id);
        const { message, args, ttlMinutes } = req.body;
        const input = signer.sign({
          rotationId: req.params.id,
          message,
          args: { ...asActor(who), ...args },
          principal: who,
          via: 'signal',
          ttlMs: ttlMinutes ? ttlMinutes * 60_000 : SIGNAL_PROOF_TTL_MS,
        });
        const json = JSON.stringify(input);
        return {
          id: req.params.id,
          workflowId: handle.workflowId,
          namespace: deps.temporal.options.namespace,
          signal: message,
          input,
          expiresAt: input.proof.expiresAt,
          command: [
            'temporal workflow signal',
            `--namespace ${shellQuote(deps.temporal.options.namespace)}`,
            `--workflow-id ${shellQuote(handle.workflowId)}`,
            `--name ${message}`,
            `--input ${shellQuote(json)}`,
          ].join(' '),
        };
      },
    );

    app.put(
      '/rotations/:id/replacement-key',
      {
        schema: {
          params: idParams,
          body: replacementKeyBody,
          response: {
            202: z.object({
              id: z.string(),
              version: z.string().describe('the pending secret version that holds the key'),
              fingerprint: z.string().describe('sha256: + 12 hex of the key, never the key'),
              phase: z.string(),
            }),
          },
          description:
            'Manual gateways: hand over the replacement key. It goes straight to the pending secret; ' +
            'the workflow receives only its version id and fingerprint.',
        },
      },
      async (req, reply) => {
        const who = actor(req);
        requireRole(who, 'requester', 'operator');
        const { handle, environment, credential } = await running(req.params.id);
        const store = deps.secretStoreFor;
        if (!store) {
          throw new HttpProblem(503, 'Service unavailable', 'this API has no secret store configured');
        }
        const ref = deps.registry.lookup(credential, environment);
        if (!ref) throw Conflict(`credential ${credential} is no longer registered for ${environment}`);
        // Nothing is written unless a key is awaited: a refused hand-off must leave the vault as it was.
        const status = await deps.temporal
          .withAbortSignal(AbortSignal.timeout(UPDATE_TIMEOUT_MS), () => handle.query(statusQuery))
          .catch((err: unknown) => {
            if (isAbort(err)) {
              throw new HttpProblem(503, 'Service unavailable', 'no rekey worker answered in time');
            }
            throw err;
          });
        if (status.pendingGate?.gate !== 'replacement-key') {
          throw Conflict(`no replacement key is awaited (phase ${status.phase})`);
        }
        if (!who.roles.some((r) => status.pendingGate!.requiredRoles.includes(r))) {
          throw NotAllowed(
            `${who.principal} lacks the ${status.pendingGate.requiredRoles.join(' or ')} role`,
          );
        }
        if (fingerprint(req.body.key) === status.fingerprints.old) {
          throw Unprocessable(
            'this is the key being replaced, not a new one: create a new key at the gateway and hand that over',
          );
        }
        // One hand-off at a time per rotation in this process; the workflow's latch refuses a second
        // one across processes, and promote takes only the version the canary proved.
        const staged = await handOffs.run(status.rotationId, async () => {
          const written = await store(ref)
            .stagePending(status.rotationId, req.body.key)
            .catch((err: unknown) => {
              throw storeProblem(err);
            });
          const result = await send(
            req.params.id,
            who,
            handle,
            replacementKeyStagedUpdate,
            { ...asActor(who), version: written.version, fingerprint: written.fingerprint },
            `hand-off:${req.id}`,
          ).catch((err: unknown) => {
            // The key is in the vault but the rotation will not use it (promote takes only the version
            // the workflow accepted): say so, so the human revokes it at the gateway.
            if (err instanceof HttpProblem) {
              throw new HttpProblem(
                err.status,
                err.title,
                `${err.message}. The key you sent (${written.fingerprint}) was stored as pending version ${written.version} but will not be used: revoke it at the gateway`,
              );
            }
            throw err;
          });
          return { ...written, phase: result.phase };
        });
        return reply.code(202).send({
          id: req.params.id,
          version: staged.version,
          fingerprint: staged.fingerprint,
          phase: staged.phase,
        });
      },
    );
  };
}

/** Runs one task at a time per key (here: per rotation), in this process. */
function keyedSerial() {
  const tails = new Map<string, Promise<unknown>>();
  return {
    run<T>(key: string, task: () => Promise<T>): Promise<T> {
      const previous = tails.get(key) ?? Promise.resolve();
      const next = previous.then(task, task);
      const tail = next.catch(() => undefined);
      tails.set(key, tail);
      void tail.then(() => {
        if (tails.get(key) === tail) tails.delete(key);
      });
      return next;
    },
  };
}

/** A word for a POSIX shell: single-quoted, with embedded single quotes closed, escaped and reopened. */
function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
