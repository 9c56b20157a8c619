// Key Vault versions as the neutral port's shapes (domain/secrets.ts): a ref names a version by store,
// name and id with its fingerprint; a record adds tags and times for the evidence. Neither holds a value:
// a fingerprint comes from a value the operation read, or else from the version's rekey tag.
import type { SecretProperties } from '@azure/keyvault-secrets';
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../../domain/failure-types';
import type { Fingerprint, SecretVersionRecord, SecretVersionRef } from '../../../domain/secrets';
import { fingerprint } from '../../../domain/fingerprint';
import type { KeyVaultConnection } from './session';
import { stageOf, Tag, tagsOf } from './tags';

/** A version that came back without a value: nothing to read, copy or promote. */
export function noValue(
  c: KeyVaultConnection,
  name: string,
  version: string | undefined,
): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureTypes.SecretNotFound,
    message: `version ${version ?? '(newest)'} of ${name} in ${c.store} came back without a value`,
    nonRetryable: true,
  });
}

/** The fingerprint of a value the operation holds, else the version's rekey fingerprint tag. */
export function fingerprintOf(c: KeyVaultConnection, p: SecretProperties, value?: string): Fingerprint {
  if (value !== undefined) return fingerprint(value);
  const tagged = tagsOf(p)[Tag.fingerprint];
  if (tagged?.startsWith('sha256:')) return tagged as Fingerprint;
  throw ApplicationFailure.create({
    type: FailureTypes.SecretNotFound,
    message: `version ${p.version} of ${p.name} in ${c.store} has no rekey fingerprint tag and its value cannot be read`,
    nonRetryable: true,
  });
}

/** A version by reference, for the workflow. */
export function refOf(c: KeyVaultConnection, p: SecretProperties, value?: string): SecretVersionRef {
  const gatewayKeyId = tagsOf(p)[Tag.gatewayKey];
  return {
    store: c.store,
    name: p.name,
    version: p.version ?? '',
    fingerprint: fingerprintOf(c, p, value),
    enabled: p.enabled ?? true,
    ...(p.createdOn ? { createdAt: p.createdOn.toISOString() } : {}),
    // attributes.exp: what expiry-started rotations (workflows/scheduled-rotation.ts expiryWatch) read.
    ...(p.expiresOn ? { expiresAt: p.expiresOn.toISOString() } : {}),
    ...(gatewayKeyId ? { gatewayKeyId } : {}),
  };
}

/** A version for the evidence: every tag and time, rekey's stage, rotation and fingerprint. */
export function recordOf(c: KeyVaultConnection, p: SecretProperties): SecretVersionRecord {
  const tags = tagsOf(p);
  const fp = tags[Tag.fingerprint];
  const stage = stageOf(p);
  return {
    store: c.store,
    name: p.name,
    version: p.version ?? '',
    enabled: p.enabled ?? true,
    ...(p.createdOn ? { createdAt: p.createdOn.toISOString() } : {}),
    ...(p.updatedOn ? { updatedAt: p.updatedOn.toISOString() } : {}),
    ...(fp?.startsWith('sha256:') ? { fingerprint: fp as Fingerprint } : {}),
    ...(stage ? { stage } : {}),
    ...(tags[Tag.rotation] ? { rotationId: tags[Tag.rotation] } : {}),
    ...(tags[Tag.gatewayKey] ? { gatewayKeyId: tags[Tag.gatewayKey] } : {}),
    tags: { ...tags },
  };
}
