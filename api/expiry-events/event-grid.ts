// Azure Event Grid deliveries of Key Vault expiry events (issue 16 item 2), in either schema a
// subscription can use:
// - Event Grid schema: a JSON array of events, each `{id, topic, subject, eventType, eventTime, data,
//   dataVersion}`; a new subscription first sends `Microsoft.EventGrid.SubscriptionValidationEvent`,
//   answered with `{validationResponse: data.validationCode}` (the synchronous handshake);
// - CloudEvents 1.0: one event (`application/cloudevents+json`) or a batch
//   (`application/cloudevents-batch+json`), each `{specversion, id, source, subject, type, time, data}`;
//   the handshake is an HTTP OPTIONS with `WebHook-Request-Origin`, answered with
//   `WebHook-Allowed-Origin` (CloudEvents' webhook abuse protection).
// Key Vault's event data is PascalCase: `{Id, VaultName, ObjectType, ObjectName, Version, NBF, EXP}`,
// EXP in seconds since the epoch. Nothing here carries a secret value: an event names a version.
import { timingSafeEqual, createHash } from 'node:crypto';
import { z } from 'zod';

export const EVENT_GRID_VALIDATION = 'Microsoft.EventGrid.SubscriptionValidationEvent';
/** The events that start an expiry check; every other type is answered and ignored. */
export const EXPIRY_EVENT_TYPES = [
  'Microsoft.KeyVault.SecretNearExpiry',
  'Microsoft.KeyVault.SecretExpired',
] as const;

/** A malformed delivery: 400 with what is wrong. */
export class MalformedEvent extends Error {
  override readonly name = 'MalformedEvent';
}

const keyVaultData = z.looseObject({
  Id: z.string().max(2000).optional(),
  VaultName: z.string().min(1).max(200),
  ObjectType: z.string().max(100).optional(),
  ObjectName: z.string().min(1).max(200),
  Version: z.string().max(200).optional(),
  NBF: z.number().nullable().optional(),
  EXP: z.number().nullable().optional(),
});

const eventGridEvent = z.looseObject({
  id: z.string().min(1).max(200),
  eventType: z.string().min(1).max(200),
  subject: z.string().max(2000).optional(),
  topic: z.string().max(2000).optional(),
  eventTime: z.string().max(100).optional(),
  data: z.unknown(),
});

const cloudEvent = z.looseObject({
  specversion: z.literal('1.0'),
  id: z.string().min(1).max(200),
  type: z.string().min(1).max(200),
  source: z.string().min(1).max(2000),
  subject: z.string().max(2000).optional(),
  time: z.string().max(100).optional(),
  data: z.unknown(),
});

/** One Key Vault expiry event, whichever schema carried it. */
export interface KeyVaultExpiryEvent {
  schema: 'eventgrid' | 'cloudevents';
  id: string;
  type: (typeof EXPIRY_EVENT_TYPES)[number];
  vaultName: string;
  /** The vault's host from the object id (`<vault>.vault.azure.net`), when the event carries it. */
  vaultHost?: string;
  secretName: string;
  version?: string;
  expiresAt?: string;
}

export type ParsedDelivery =
  | { kind: 'validation'; validationCode: string }
  | { kind: 'events'; expiry: KeyVaultExpiryEvent[]; ignored: { id: string; type: string }[] };

const problem = (what: string, err: z.ZodError) => {
  const i = err.issues[0]!;
  return new MalformedEvent(`${what}: ${i.path.join('.') || '(root)'}: ${i.message}`);
};

function expiryEvent(
  schema: KeyVaultExpiryEvent['schema'],
  id: string,
  type: (typeof EXPIRY_EVENT_TYPES)[number],
  rawData: unknown,
): KeyVaultExpiryEvent {
  const data = keyVaultData.safeParse(rawData);
  if (!data.success) throw problem(`event ${id} (${type}) data`, data.error);
  const d = data.data;
  let vaultHost: string | undefined;
  if (d.Id) {
    try {
      vaultHost = new URL(d.Id).host.toLowerCase();
    } catch {
      throw new MalformedEvent(`event ${id} data.Id is not a URL`);
    }
  }
  return {
    schema,
    id,
    type,
    vaultName: d.VaultName,
    ...(vaultHost ? { vaultHost } : {}),
    secretName: d.ObjectName,
    ...(d.Version ? { version: d.Version } : {}),
    ...(typeof d.EXP === 'number' ? { expiresAt: new Date(d.EXP * 1000).toISOString() } : {}),
  };
}

const isExpiryType = (t: string): t is (typeof EXPIRY_EVENT_TYPES)[number] =>
  (EXPIRY_EVENT_TYPES as readonly string[]).includes(t);

/** A delivery's events; `body` is the parsed JSON, `contentType` the media type without parameters. */
export function parseDelivery(body: unknown, contentType: string): ParsedDelivery {
  const cloud = contentType.startsWith('application/cloudevents');
  const list = Array.isArray(body) ? body : [body];
  if (list.length === 0) throw new MalformedEvent('the delivery holds no event');
  if (list.length > 500) throw new MalformedEvent('a delivery holds at most 500 events');
  const expiry: KeyVaultExpiryEvent[] = [];
  const ignored: { id: string; type: string }[] = [];
  for (const raw of list) {
    if (cloud || (raw && typeof raw === 'object' && 'specversion' in raw)) {
      const e = cloudEvent.safeParse(raw);
      if (!e.success) throw problem('a CloudEvents event', e.error);
      if (isExpiryType(e.data.type))
        expiry.push(expiryEvent('cloudevents', e.data.id, e.data.type, e.data.data));
      else ignored.push({ id: e.data.id, type: e.data.type });
      continue;
    }
    const e = eventGridEvent.safeParse(raw);
    if (!e.success) throw problem('an Event Grid event', e.error);
    if (e.data.eventType === EVENT_GRID_VALIDATION) {
      const code = z.object({ validationCode: z.string().min(1).max(500) }).safeParse(e.data.data);
      if (!code.success) throw problem('the subscription validation event', code.error);
      return { kind: 'validation', validationCode: code.data.validationCode };
    }
    if (isExpiryType(e.data.eventType)) {
      expiry.push(expiryEvent('eventgrid', e.data.id, e.data.eventType, e.data.data));
    } else ignored.push({ id: e.data.id, type: e.data.eventType });
  }
  return { kind: 'events', expiry, ignored };
}

/** Whether the delivery's secret header matches the configured secret (constant time). */
export function secretMatches(expected: string, presented: string | undefined): boolean {
  if (presented === undefined) return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(expected), digest(presented));
}
