// Proof of who sent a message. The API authenticates a person (a hashed static token or an OIDC token),
// then signs the message with an Ed25519 key only it holds; the workflow verifies the signature with the
// public keys it was started with (RotationInput.messageTrust), so a principal written into a raw
// `temporal workflow signal` payload proves nothing. A proof is bound to the rotation id, the message
// name and every argument (the gate included), carries an expiry and a nonce the workflow refuses to see
// twice, and says how the API authenticated the principal: that is what the evidence records.
//
// Zod-free and deterministic: the workflow sandbox runs it (pure-JS Ed25519 from @noble/curves, no
// node:crypto, no Buffer); the API signs with node:crypto over the very same bytes (signedBytes).
import { ed25519 } from '@noble/curves/ed25519.js';
import type { ExposureSource } from './exposures';
import { EXPOSURE_SOURCES } from './vocabulary';

/**
 * How the API authenticated the principal it signs for: a person's token, or a secret scanner's alert
 * whose signature the API verified (the principal is then `exposure:<source>:<alertId>`).
 */
export type Authn =
  | { method: 'static-token'; tokenId: string }
  | { method: 'oidc'; issuer: string; subject: string }
  | { method: 'exposure-alert'; source: ExposureSource; alertId: string };

/** How a signed message reached the workflow: sent by the API itself, or printed for a signal. */
export const PROOF_CHANNELS = ['api', 'signal'] as const;
export type ProofChannel = (typeof PROOF_CHANNELS)[number];

/** One signature over signedBytes: the signing key's id and the 64-byte signature, hex. */
export interface ProofSignature {
  keyId: string;
  sig: string;
}

/** The proof a message carries in its `proof` field. Never secret: it is written to history. */
export interface MessageProof {
  v: 1;
  alg: 'ed25519';
  /** When the API signed it, and until when it counts (ISO 8601). */
  issuedAt: string;
  expiresAt: string;
  /** 16 random bytes, hex: a proof counts once. */
  nonce: string;
  authn: Authn;
  via: ProofChannel;
  /** One per key the API holds (key rollover): any trusted one suffices. */
  signatures: ProofSignature[];
}

/** A public key the rotation trusts: id and the 32-byte raw Ed25519 key, hex. */
export interface TrustedKey {
  keyId: string;
  publicKey: string;
}

/**
 * What a rotation trusts, fixed at its start. `unsigned: 'allow'` is a deployment's explicit choice to
 * accept unsigned signals: Temporal's own authorization is then the boundary.
 */
export interface MessageTrust {
  keys: TrustedKey[];
  unsigned: 'refuse' | 'allow';
}

/** How an applied message was proven, as the status and the evidence record it. */
export type ProofRecord =
  | {
      method: 'signature';
      keyId: string;
      via: ProofChannel;
      authn: Authn;
      issuedAt: string;
      nonce: string;
    }
  | { method: 'unsigned-allowed'; note: string }
  /** No message: a verified leak alert approved the revoke gate itself (policy emergency_revoke: alert). */
  | {
      method: 'verified-alert';
      source: ExposureSource;
      alertId: string;
      url?: string;
      receivedAt: string;
    };

/** Longest a proof may live: a printed signal input must be used within the hour. */
export const MAX_PROOF_TTL_MS = 60 * 60_000;
/** How far a proof's issuedAt may be ahead of the workflow's clock (the API's clock runs ahead). */
export const PROOF_CLOCK_SKEW_MS = 2 * 60_000;

const HEX = /^[0-9a-f]*$/;

/** JSON with object keys sorted at every depth: the one text both signer and verifier see. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  }
  const entries = Object.keys(value)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

/** What a signature covers: the rotation, the message, its arguments (minus the proof) and the proof's terms. */
export interface SignedContent {
  rotationId: string;
  message: string;
  args: Record<string, unknown>;
  proof: Omit<MessageProof, 'signatures'>;
}

/** The bytes signed and verified: a domain tag, then the canonical JSON of the content. */
export function signedBytes(c: SignedContent): Uint8Array {
  const { proof: _proof, ...args } = c.args;
  void _proof;
  const text = `rekey-message-proof/v1\n${canonicalJson({
    rotationId: c.rotationId,
    message: c.message,
    args,
    v: c.proof.v,
    alg: c.proof.alg,
    issuedAt: c.proof.issuedAt,
    expiresAt: c.proof.expiresAt,
    nonce: c.proof.nonce,
    authn: c.proof.authn,
    via: c.proof.via,
  })}`;
  return utf8(text);
}

/** UTF-8 bytes of a string, without TextEncoder or Buffer (the workflow sandbox need not have them). */
function utf8(s: string): Uint8Array {
  const out: number[] = [];
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Uint8Array.from(out);
}

function hexBytes(hex: string, length: number): Uint8Array | undefined {
  if (typeof hex !== 'string' || hex.length !== length * 2 || !HEX.test(hex)) return undefined;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Why a value is not shaped like a MessageProof, or undefined. */
function malformedProof(p: unknown): string | undefined {
  if (!p || typeof p !== 'object') return 'proof must be an object';
  const proof = p as Record<string, unknown>;
  if (proof.v !== 1 || proof.alg !== 'ed25519') return 'proof must be v 1, alg ed25519';
  for (const f of ['issuedAt', 'expiresAt', 'nonce'] as const) {
    if (typeof proof[f] !== 'string') return `proof ${f} must be text`;
  }
  if (!hexBytes(proof.nonce as string, 16)) return 'proof nonce must be 16 bytes, hex';
  if (!(PROOF_CHANNELS as readonly unknown[]).includes(proof.via)) return 'proof via must be api or signal';
  const authn = proof.authn as Record<string, unknown> | undefined;
  const authnOk =
    !!authn &&
    ((authn.method === 'static-token' && typeof authn.tokenId === 'string') ||
      (authn.method === 'oidc' && typeof authn.issuer === 'string' && typeof authn.subject === 'string') ||
      (authn.method === 'exposure-alert' &&
        (EXPOSURE_SOURCES as readonly unknown[]).includes(authn.source) &&
        typeof authn.alertId === 'string'));
  if (!authnOk) {
    return 'proof authn must name a static-token tokenId, an oidc issuer and subject, or an exposure-alert source and alertId';
  }
  if (!Array.isArray(proof.signatures) || proof.signatures.length === 0 || proof.signatures.length > 8) {
    return 'proof signatures must be a list of 1 to 8';
  }
  return undefined;
}

/** What verifyProof decides: the record of an accepted proof, or why it is refused. */
export type ProofVerdict =
  { ok: true; record: ProofRecord; nonce?: string; expiresAtMs?: number } | { ok: false; refusal: string };

/**
 * Whether a message's proof holds for this rotation, now: a trusted key signed exactly these arguments
 * for this rotation and message, the proof has not expired (nor was issued in the future), and its nonce
 * was not used before. A message with no proof counts only where the trust says unsigned is allowed.
 */
export function verifyProof(opts: {
  trust: MessageTrust;
  rotationId: string;
  message: string;
  args: Record<string, unknown>;
  nowMs: number;
  nonceUsed: (nonce: string) => boolean;
}): ProofVerdict {
  const { trust, args } = opts;
  const claimed = typeof args.principal === 'string' ? ` (claimed principal ${args.principal})` : '';
  if (args.proof === undefined) {
    if (trust.unsigned === 'allow') {
      return {
        ok: true,
        record: {
          method: 'unsigned-allowed',
          note: "unsigned message accepted by this deployment's setting: Temporal's authorization is the boundary",
        },
      };
    }
    return {
      ok: false,
      refusal: `unsigned ${opts.message} refused${claimed}: this rotation counts only messages signed by the rekey API — use the API, or \`rekey ${opts.message === 'approve' ? 'approve' : '<command>'} --print-signal\` for a signed signal input`,
    };
  }
  const malformed = malformedProof(args.proof);
  if (malformed) return { ok: false, refusal: `${opts.message} refused${claimed}: ${malformed}` };
  const proof = args.proof as MessageProof;
  const issued = Date.parse(proof.issuedAt);
  const expires = Date.parse(proof.expiresAt);
  if (!Number.isFinite(issued) || !Number.isFinite(expires)) {
    return { ok: false, refusal: `${opts.message} refused${claimed}: proof times are not dates` };
  }
  if (expires - issued > MAX_PROOF_TTL_MS || expires < issued) {
    return { ok: false, refusal: `${opts.message} refused${claimed}: proof lifetime exceeds one hour` };
  }
  if (opts.nowMs > expires) {
    return {
      ok: false,
      refusal: `${opts.message} refused${claimed}: proof expired at ${proof.expiresAt}`,
    };
  }
  if (issued > opts.nowMs + PROOF_CLOCK_SKEW_MS) {
    return { ok: false, refusal: `${opts.message} refused${claimed}: proof issued in the future` };
  }
  if (opts.nonceUsed(proof.nonce)) {
    return { ok: false, refusal: `${opts.message} refused${claimed}: this proof was already used` };
  }
  const { signatures, ...terms } = proof;
  const bytes = signedBytes({ rotationId: opts.rotationId, message: opts.message, args, proof: terms });
  for (const s of signatures as unknown[]) {
    const sig = s as Partial<ProofSignature> | null;
    const key = trust.keys.find((k) => k.keyId === sig?.keyId);
    const sigBytes = hexBytes(sig?.sig ?? '', 64);
    const keyBytes = key ? hexBytes(key.publicKey, 32) : undefined;
    if (!key || !sigBytes || !keyBytes) continue;
    let valid: boolean;
    try {
      valid = ed25519.verify(sigBytes, bytes, keyBytes);
    } catch {
      valid = false;
    }
    if (valid) {
      return {
        ok: true,
        nonce: proof.nonce,
        expiresAtMs: expires,
        record: {
          method: 'signature',
          keyId: key.keyId,
          via: proof.via,
          authn: proof.authn,
          issuedAt: proof.issuedAt,
          nonce: proof.nonce,
        },
      };
    }
  }
  return {
    ok: false,
    refusal: `${opts.message} refused${claimed}: no signature by a key this rotation trusts covers it (another rotation's or message's proof, altered arguments, or an unknown key)`,
  };
}

/** One line for the timeline and the evidence: how a message was proven. */
export function describeProof(r: ProofRecord): string {
  if (r.method === 'unsigned-allowed') return 'unsigned (allowed by the deployment)';
  if (r.method === 'verified-alert') {
    return `a verified ${r.source} alert ${r.alertId}${r.url ? ` (${r.url})` : ''}, received ${r.receivedAt}`;
  }
  const who =
    r.authn.method === 'oidc'
      ? `OIDC ${r.authn.issuer} subject ${r.authn.subject}`
      : r.authn.method === 'exposure-alert'
        ? `verified ${r.authn.source} alert ${r.authn.alertId}`
        : `static token ${r.authn.tokenId}`;
  return `signed by the rekey API (key ${r.keyId}, via ${r.via}) for ${who}`;
}
