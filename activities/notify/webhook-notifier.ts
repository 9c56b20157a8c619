// Tells the change ticket's webhook about phase changes, open gates and reminders. The body is signed
// with HMAC-SHA256 over `timestamp.body` (header X-Rekey-Signature: sha256=<hex>) so the receiver can
// check it came from rekey and is fresh. One POST per attempt: retries belong to the activity's retry
// policy, and the workflow never lets a failure here block the rotation.
//
// The worker is the boundary against server-side request forgery: the API checks the URL at start, but
// the allowlist may have changed since, and only here is the name resolved. Each send checks the URL
// against the allowlist, resolves the host once, checks every address, and connects only to those it checked.
import { FailureTypes } from '../../domain/failure-types';
import { createHmac } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { Notifier } from '../../domain/ports';
import type { WebhookAllowlist } from '../../domain/webhook-targets';
import { admitTarget, postGuarded } from './guarded-post';
import type { Resolve } from './safe-lookup';

export interface WebhookNotifierOptions {
  /** Shared secret for the signature; without it nothing is sent to a webhook (the event is logged). */
  signingSecret?: string;
  /** Where webhooks may go (REKEY_WEBHOOK_ALLOWED_HOSTS, REKEY_WEBHOOK_PRIVATE_HOSTS); default none. */
  allowlist?: WebhookAllowlist;
  /** How a host name is resolved; default the system resolver (dns.lookup). */
  resolve?: Resolve;
  timeoutMs?: number;
  log?: (message: string, fields: Record<string, unknown>) => void;
  now?: () => number;
}

/** The signature header value for a body sent at `timestamp` (seconds). */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

/** A notifier that POSTs JSON events to the rotation's webhook URL, when the ticket gave an allowed one. */
export function createWebhookNotifier(opts: WebhookNotifierOptions = {}): Notifier {
  const log = opts.log ?? (() => undefined);
  return {
    async notify(event) {
      const { webhookUrl, deliveryId, ...payload } = event;
      log('rotation event', { ...payload, webhook: Boolean(webhookUrl) });
      if (!webhookUrl) return;
      const target = admitTarget(webhookUrl, opts.allowlist);
      // An unsigned event could be forged by anyone who can reach the receiver: send signed or not at all.
      if (!opts.signingSecret) {
        throw ApplicationFailure.nonRetryable(
          'REKEY_WEBHOOK_SIGNING_SECRET is not set on the worker: ticket webhooks are sent signed or not at all',
          FailureTypes.WebhookUnsigned,
        );
      }
      const secret = opts.signingSecret;
      const body = JSON.stringify({
        ...payload,
        source: 'rekey',
        sentAt: new Date((opts.now ?? Date.now)()).toISOString(),
      });
      const timestamp = String(Math.floor((opts.now ?? Date.now)() / 1000));
      // A redirect would carry the signed event somewhere the ticket did not name: refused, not followed.
      const status = await postGuarded({
        target,
        resolve: opts.resolve,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'rekey-webhook',
          'x-rekey-timestamp': timestamp,
          'x-rekey-event': payload.event,
          ...(deliveryId ? { 'x-rekey-delivery': deliveryId } : {}),
          'x-rekey-signature': webhookSignature(secret, timestamp, body),
        },
        body,
        timeoutMs: opts.timeoutMs ?? 10_000,
        redirected: (answered) => `webhook answered ${answered} for ${payload.event}`,
      });
      if (status < 200 || status >= 300) throw new Error(`webhook answered ${status} for ${payload.event}`);
    },
  };
}
