// Verifying that an alert comes from its scanner, over the raw body bytes as received:
// - GitHub webhooks: HMAC-SHA256 of the body with the webhook secret, `X-Hub-Signature-256: sha256=<hex>`;
// - GitHub's secret-scanning partner program: ECDSA P-256 / SHA-256 over the body, base64 DER in
//   `GITHUB-PUBLIC-KEY-SIGNATURE`, the key named by `GITHUB-PUBLIC-KEY-IDENTIFIER` in a file shaped like
//   https://api.github.com/meta/public_keys/secret_scanning (configured: no internet here);
// - GitGuardian custom webhooks: HMAC-SHA256 of the body keyed with `<Timestamp header><signature
//   token>` (GitGuardian's documented verification), `Gitguardian-Signature: sha256=<hex>`, and the
//   Timestamp (Unix seconds) within a tolerance either way, against replays.
// Every comparison of secrets-derived bytes is constant-time.
import { createHmac, createPublicKey, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';

/** Why a signature was refused; the route answers 401 with it, never echoing the body. */
export class SignatureRefused extends Error {
  override readonly name = 'SignatureRefused';
}

const hexDigest = (header: string | undefined) => /^sha256=([0-9a-f]{64})$/i.exec(header?.trim() ?? '')?.[1];

function equalHex(a: string, b: string): boolean {
  const x = Buffer.from(a.toLowerCase(), 'hex');
  const y = Buffer.from(b.toLowerCase(), 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Throws SignatureRefused unless the header is the HMAC-SHA256 of the body with the secret. */
export function verifyGithubWebhook(secret: string, body: Buffer, header: string | undefined): void {
  const given = hexDigest(header);
  if (!given) throw new SignatureRefused('X-Hub-Signature-256 is missing or not sha256=<hex>');
  const expected = createHmac('sha256', secret).update(body).digest('hex');
  if (!equalHex(given, expected)) throw new SignatureRefused('X-Hub-Signature-256 does not match the body');
}

const publicKeysFileSchema = z.object({
  public_keys: z
    .array(
      z.object({
        key_identifier: z.string().min(1),
        key: z.string().includes('BEGIN PUBLIC KEY'),
        is_current: z.boolean().optional(),
      }),
    )
    .min(1),
});

/** GitHub's secret-scanning public keys by identifier, from the JSON of /meta/public_keys/secret_scanning. */
export function parseGithubPublicKeys(json: string): Map<string, KeyObject> {
  const parsed = publicKeysFileSchema.parse(JSON.parse(json));
  const keys = new Map<string, KeyObject>();
  for (const k of parsed.public_keys) {
    const key = createPublicKey(k.key);
    if (key.asymmetricKeyType !== 'ec') throw new Error(`public key ${k.key_identifier} is not ECDSA`);
    keys.set(k.key_identifier, key);
  }
  return keys;
}

/** Throws SignatureRefused unless a known key signed the body (ECDSA P-256, SHA-256, DER, base64). */
export function verifyGithubPartner(
  keys: ReadonlyMap<string, KeyObject>,
  body: Buffer,
  keyId: string | undefined,
  signature: string | undefined,
): void {
  if (!keyId || !signature) {
    throw new SignatureRefused('GITHUB-PUBLIC-KEY-IDENTIFIER and GITHUB-PUBLIC-KEY-SIGNATURE are required');
  }
  const key = keys.get(keyId);
  if (!key) throw new SignatureRefused('GITHUB-PUBLIC-KEY-IDENTIFIER names no configured key');
  const sig = Buffer.from(signature, 'base64');
  let ok: boolean;
  try {
    ok = verify('sha256', body, { key, dsaEncoding: 'der' }, sig);
  } catch {
    ok = false;
  }
  if (!ok) throw new SignatureRefused('GITHUB-PUBLIC-KEY-SIGNATURE does not verify');
}

/** Throws SignatureRefused unless GitGuardian signed the body at a timestamp within the tolerance. */
export function verifyGitguardian(
  token: string,
  body: Buffer,
  timestamp: string | undefined,
  header: string | undefined,
  opts: { nowMs: number; toleranceSeconds: number },
): void {
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) throw new SignatureRefused('Timestamp is missing');
  const given = hexDigest(header);
  if (!given) throw new SignatureRefused('Gitguardian-Signature is missing or not sha256=<hex>');
  const expected = createHmac('sha256', `${timestamp}${token}`).update(body).digest('hex');
  if (!equalHex(given, expected)) throw new SignatureRefused('Gitguardian-Signature does not match the body');
  // Checked after the signature, so a stale but authentic request is told apart from a forged one.
  const skew = Math.abs(opts.nowMs / 1000 - Number(timestamp));
  if (skew > opts.toleranceSeconds) {
    throw new SignatureRefused(`Timestamp is ${Math.round(skew)} s away from now (stale or replayed)`);
  }
}
