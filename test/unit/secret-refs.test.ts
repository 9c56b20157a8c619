import { buildEvidenceBundle } from '../../activities/evidence/build-bundle';
import { createSecretStores } from '../../activities/secrets';
import { secretLocationOf, secretPaths, storeLabel, storeOf } from '../../domain/secret-refs';
import { secretLocationSchema, secretLocationYaml } from '../../domain/secrets';
import type { CredentialRef } from '../../domain/activity-io';
import {
  evidenceCredential,
  evidenceHistory,
  evidenceInput,
  evidenceStatus,
} from '../helpers/evidence-fixtures';

// Rotations started before 0.3 carry the Azure-only credential (`vaultUrl`, `secretName`,
// `pendingSecretName`) and version refs (`vaultUrl`) in their history; a worker upgrade must not strand them.
const legacyCredential = () => {
  const { secret, ...rest } = evidenceCredential();
  if (secret.backend !== 'azure-key-vault') throw new Error('the fixture is a Key Vault credential');
  return {
    ...rest,
    vaultUrl: `${secret.vaultUrl}/`,
    secretName: secret.secretName,
    pendingSecretName: secret.pendingSecretName,
  };
};

describe('secret locations and refs', () => {
  it('reads a pre-0.3 credential as an azure-key-vault location, and a current one as it is', () => {
    const current = evidenceCredential();
    expect(secretLocationOf(legacyCredential())).toEqual(current.secret);
    expect(secretLocationOf(current)).toBe(current.secret);
    expect(() => secretLocationOf({})).toThrow(/names no secret location/);
    expect(storeOf({ vaultUrl: 'https://kv.vault.azure.net' })).toBe('https://kv.vault.azure.net');
    expect(storeOf({ store: 'https://v:8200/v1/secret' })).toBe('https://v:8200/v1/secret');
  });

  it('labels each backend’s store and paths for reviewers', () => {
    const yaml = (doc: unknown) => secretLocationYaml.parse(doc);
    const kv = yaml({ backend: 'hashicorp-vault', address: 'https://v:8200/', namespace: 'ns', path: 'a/b' });
    expect(secretLocationSchema.parse(kv)).toEqual(kv);
    expect(storeLabel(kv)).toBe('https://v:8200/v1/ns/secret');
    expect(secretPaths(kv)).toEqual({ stable: 'a/b', pending: 'a/b-pending' });
    const aws = yaml({ backend: 'aws-secrets-manager', region: 'eu-west-1', secret_id: 'prod/k' });
    expect(storeLabel(aws)).toBe('aws-secrets-manager:eu-west-1');
    expect(secretPaths(aws)).toEqual({ stable: 'prod/k', pending: 'prod/k@AWSPENDING' });
  });

  it('opens the store of a pre-0.3 credential on its Key Vault, without a network call', () => {
    const stores = createSecretStores({ env: { REKEY_AZURE_KEYVAULT_EMULATOR: 'false' } });
    const legacy = legacyCredential() as unknown as CredentialRef;
    expect(stores.secretStoreFor(legacy)).toBe(stores.secretStoreFor(evidenceCredential()));
  });

  it('builds the evidence of a pre-0.3 rotation with the same secret-version section', () => {
    const opts = { generatedAt: '2026-06-19T11:20:14.000Z' };
    const now = buildEvidenceBundle(
      evidenceStatus(),
      { input: evidenceInput(), credential: evidenceCredential() },
      evidenceHistory(),
      opts,
    );
    const before = buildEvidenceBundle(
      evidenceStatus(),
      { input: evidenceInput(), credential: legacyCredential() as unknown as CredentialRef },
      evidenceHistory(),
      opts,
    );
    expect(before.secretVersions).toEqual(now.secretVersions);
    expect(now.secretVersions).toMatchObject({
      backend: 'azure-key-vault',
      store: 'https://kv-platform-prod.vault.azure.net',
      vaultUrl: 'https://kv-platform-prod.vault.azure.net',
    });
  });
});
