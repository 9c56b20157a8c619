import type { SecretVersionRef } from '../../domain/activity-io';

/**
 * Where the admin adapter tests stage issued keys: the values stay in the test, only references leave,
 * like the vault's.
 */
export function stagingArea() {
  const staged: { value: string; keyId: string }[] = [];
  const stage = (value: string, keyId: string): Promise<SecretVersionRef> => {
    staged.push({ value, keyId });
    return Promise.resolve({
      store: 'https://vault.test',
      name: 'k-pending',
      version: `v${staged.length}`,
      fingerprint: 'sha256:000000000000',
      enabled: true,
      gatewayKeyId: keyId,
    });
  };
  return { staged, stage };
}
