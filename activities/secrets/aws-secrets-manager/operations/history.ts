// history: every version of the secret, oldest first, with its staging labels and rekey facts (no values).
import type { SecretVersionRecord } from '../../../../domain/secrets';
import type { VersionView } from '../secret-io';
import { begin, type SecretsManagerSession } from '../session';

/** Every version, oldest first, as records. */
export async function history(s: SecretsManagerSession): Promise<SecretVersionRecord[]> {
  return chronological((await s.io.view(begin(s))).versions).map((v) => record(s, v));
}

/**
 * Oldest first, and never a version before the one it replaced: AWS's creation times can tie, and moto's
 * version list has no real ones (it reports the time of the call), so the list order decides ties.
 */
function chronological(versions: VersionView[]): VersionView[] {
  const out = [...versions];
  for (let guard = out.length * out.length, moved = true; moved && guard > 0; guard--) {
    moved = false;
    for (let i = 0; i < out.length && !moved; i++) {
      const j = out.findIndex((x) => x.id === out[i]?.facts.replaces);
      if (j > i) {
        out.splice(j, 0, ...out.splice(i, 1));
        moved = true;
      }
    }
  }
  return out;
}

/** One version as a record: its labels and facts as tags. */
function record(s: SecretsManagerSession, v: VersionView): SecretVersionRecord {
  const f = v.facts;
  const tags: Record<string, string> = {
    'aws-staging-labels': v.labels.join(','),
    ...(f.stage ? { 'rekey-stage': f.stage } : {}),
    ...(f.rotation ? { 'rekey-rotation': f.rotation } : {}),
    ...(f.fingerprint ? { 'rekey-fingerprint': f.fingerprint } : {}),
    ...(f.gatewayKeyId ? { 'rekey-gateway-key': f.gatewayKeyId } : {}),
    ...(f.replaces ? { 'rekey-replaces': f.replaces } : {}),
  };
  return {
    store: s.store,
    name: s.secretId,
    version: v.id,
    enabled: v.labels.length > 0,
    ...(v.createdAt ? { createdAt: v.createdAt } : {}),
    ...(f.fingerprint ? { fingerprint: f.fingerprint } : {}),
    ...(f.stage ? { stage: f.stage } : {}),
    ...(f.rotation ? { rotationId: f.rotation } : {}),
    ...(f.gatewayKeyId ? { gatewayKeyId: f.gatewayKeyId } : {}),
    tags,
  };
}
