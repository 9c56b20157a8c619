// The API's message-signing keys: every message the API sends a rotation (or prints for a signal) is
// signed with them, and every rotation it starts trusts their public halves (domain/message-proof.ts).
// Private keys stay in this process; only public keys, key ids and signatures leave it.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  MAX_PROOF_TTL_MS,
  signedBytes,
  type MessageProof,
  type MessageTrust,
  type ProofChannel,
  type TrustedKey,
} from '../domain/message-proof';
import type { Principal } from './auth';

/** How long a proof the API attaches to its own update lives: the update is sent at once. */
export const API_PROOF_TTL_MS = 5 * 60_000;
/** Default life of a printed signal input (rekey <command> --print-signal). */
export const SIGNAL_PROOF_TTL_MS = 15 * 60_000;

interface SigningKey {
  keyId: string;
  publicKey: string;
  privateKey: KeyObject;
}

function signingKey(privateKey: KeyObject): SigningKey {
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new Error(`message-signing keys must be Ed25519, not ${privateKey.asymmetricKeyType ?? '?'}`);
  }
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  const raw = Buffer.from(jwk.x ?? '', 'base64url');
  return {
    keyId: createHash('sha256').update(raw).digest('hex').slice(0, 16),
    publicKey: raw.toString('hex'),
    privateKey,
  };
}

/** Signs messages for rotations; the first key signs new rotations' trust, all keys sign every message. */
export class MessageSigner {
  private readonly keys: SigningKey[];

  constructor(
    privateKeys: KeyObject[],
    private readonly opts: { allowUnsigned?: boolean; now?: () => number } = {},
  ) {
    if (privateKeys.length === 0) throw new Error('a message signer needs at least one key');
    this.keys = privateKeys.map(signingKey);
  }

  /** A signer with a fresh key: rotations it starts can be messaged only by this process. */
  static ephemeral(opts?: { allowUnsigned?: boolean }): MessageSigner {
    return new MessageSigner([generateKeyPairSync('ed25519').privateKey], opts);
  }

  /** Reads PKCS#8 PEM Ed25519 private keys, one or more per file; the first file's first key is current. */
  static fromFiles(paths: string[], opts?: { allowUnsigned?: boolean }): MessageSigner {
    const keys = paths.flatMap((path) => {
      const text = readFileSync(path, 'utf8');
      const blocks = text.match(/-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/g) ?? [];
      if (blocks.length === 0) throw new Error(`${path}: no PKCS#8 PEM private key (BEGIN PRIVATE KEY)`);
      return blocks.map((pem) => createPrivateKey(pem));
    });
    return new MessageSigner(keys, opts);
  }

  /** What a rotation started now trusts: every key this API holds. */
  trust(): MessageTrust {
    return {
      keys: this.keys.map((k): TrustedKey => ({ keyId: k.keyId, publicKey: k.publicKey })),
      unsigned: this.opts.allowUnsigned ? 'allow' : 'refuse',
    };
  }

  /** The key ids, for logs and /readyz-style reports. */
  keyIds(): string[] {
    return this.keys.map((k) => k.keyId);
  }

  /** The arguments with a proof attached: signed for this rotation and message, valid for ttlMs. */
  sign<A extends Record<string, unknown>>(opts: {
    rotationId: string;
    message: string;
    args: A;
    principal: Principal;
    via: ProofChannel;
    ttlMs?: number;
    /** When it is signed (ms), default now: tests on a time-skipping server sign at workflow time. */
    at?: number;
  }): A & { proof: MessageProof } {
    const now = opts.at ?? (this.opts.now ?? Date.now)();
    const ttl = Math.min(opts.ttlMs ?? API_PROOF_TTL_MS, MAX_PROOF_TTL_MS);
    const terms: Omit<MessageProof, 'signatures'> = {
      v: 1,
      alg: 'ed25519',
      issuedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + ttl).toISOString(),
      nonce: randomBytes(16).toString('hex'),
      authn: opts.principal.authn,
      via: opts.via,
    };
    const bytes = signedBytes({
      rotationId: opts.rotationId,
      message: opts.message,
      args: opts.args,
      proof: terms,
    });
    const signatures = this.keys.map((k) => ({
      keyId: k.keyId,
      sig: sign(null, bytes, k.privateKey).toString('hex'),
    }));
    return { ...opts.args, proof: { ...terms, signatures } };
  }
}
