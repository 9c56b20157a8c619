import { randomBytes } from 'node:crypto';
import type { SecretBackendKind } from '../../domain/secrets';
import { fingerprint } from '../../domain/fingerprint';
import type { RotationStatus } from '../../workflows/messages';
import {
  startRotationStack,
  type RotationStack,
  type StackApp,
  type StackCredential,
} from '../helpers/rotation-stack';

// A full rotation on each secret backend, on the real stack: one worker and one API whose registry keeps
// one credential in HashiCorp Vault KV v2 (OpenBao) and one in AWS Secrets Manager (moto), beside the
// Key Vault ones of api-rotation.test.ts. Each has an app re-reading its stable secret the way apps of
// that backend do (KV v2's current version, AWSCURRENT). Per backend, one rotation runs through the
// revoke gate to COMPLETED on positive evidence, and one is rolled back by the operator after the flip:
// its app reads the old key again from the same store.
jest.setTimeout(7 * 60_000);

const run = randomBytes(3).toString('hex');
const BACKENDS: SecretBackendKind[] = ['hashicorp-vault', 'aws-secrets-manager'];
const MIN_REQUESTS = 20;
const APP_REQUESTS_PER_MINUTE = 320;

const credential = (backend: SecretBackendKind, purpose: 'done' | 'back'): StackCredential => ({
  name: `${backend === 'hashicorp-vault' ? 'kv' : 'sm'}-${purpose}-${run}`,
  environment: 'backends',
  ticket: `CHG-${purpose === 'done' ? 'D' : 'B'}${backend === 'hashicorp-vault' ? 'V' : 'A'}${run}`,
  adapter: 'litellm',
  backend,
});
const completed = Object.fromEntries(BACKENDS.map((b) => [b, credential(b, 'done')])) as Record<
  SecretBackendKind,
  StackCredential
>;
const rolledBack = Object.fromEntries(BACKENDS.map((b) => [b, credential(b, 'back')])) as Record<
  SecretBackendKind,
  StackCredential
>;
const all = [...Object.values(completed), ...Object.values(rolledBack)];

let stack: RotationStack;
const apps = new Map<StackCredential, StackApp>();
const untilPhase = (c: StackCredential, phases: string[]): Promise<RotationStatus> =>
  stack.untilPhase(stack.idOf(c), phases, { timeoutMs: 5 * 60_000, intervalMs: 1000, expectOk: true });
const rotationUrl = (c: StackCredential, suffix = '') =>
  `/v1/rotations/${encodeURIComponent(stack.idOf(c))}${suffix}`;

beforeAll(async () => {
  stack = await startRotationStack(all);
  for (const c of all) apps.set(c, await stack.startApp(c, { requestsPerMinute: APP_REQUESTS_PER_MINUTE }));
  await new Promise((r) => setTimeout(r, 3000));
  for (const c of all) {
    const res = await stack.call(
      'POST',
      '/v1/rotations',
      'alice',
      stack.policy(c, { thresholds: { min_requests: MIN_REQUESTS } }),
      { 'content-type': 'application/yaml' },
    );
    expect(res.statusCode).toBe(201);
  }
});

afterAll(async () => {
  // Stops the apps too.
  await stack?.close();
});

describe.each(BACKENDS)('a rotation with the secret in %s', (backend) => {
  it('runs to COMPLETED: the app moves to the new key from the store, the old version is retired', async () => {
    const c = completed[backend];
    const app = apps.get(c)!;
    const gate = await untilPhase(c, ['AWAITING_REVOKE_APPROVAL']);
    expect(gate.pendingGate).toMatchObject({ gate: 'revoke', evidence: 'positive' });
    const { old: oldFp, new: newFp } = gate.fingerprints;
    expect(gate.versions.current).toMatchObject({ fingerprint: newFp, enabled: true });
    expect(app.fingerprint).toBe(newFp);
    const ok = await stack.call('POST', rotationUrl(c, '/approvals'), 'bob', {
      gate: 'revoke',
      decision: 'approve',
      comment: 'drain is clean',
    });
    expect(ok.statusCode).toBe(200);
    const done = await untilPhase(c, ['COMPLETED']);
    expect(done.negativeTest).toMatchObject({ oldKeyRejected: true, newKeyAccepted: true });
    expect(done.versions.retired).toMatchObject({ fingerprint: oldFp, enabled: false });
    const value = await stack.readSecret(c);
    stack.secrets.add(value!);
    expect(app.stats(newFp!)!.answers).toEqual({ '200': expect.any(Number) });

    // The workflow enters COMPLETED, then archives the bundle and closes: poll for it.
    let evidence = await stack.call('GET', rotationUrl(c, '/evidence'), 'dave');
    for (let i = 0; i < 60 && evidence.statusCode === 404; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      evidence = await stack.call('GET', rotationUrl(c, '/evidence'), 'dave');
    }
    expect(evidence.statusCode).toBe(200);
    const bundle = evidence.json<{
      bundle: {
        secretVersions: {
          backend: string;
          source: string;
          versions: {
            roles: string[];
            enabled: boolean;
            fingerprint: string | null;
            supersededAt: string | null;
          }[];
        };
      };
    }>().bundle;
    expect(bundle.secretVersions).toMatchObject({ backend, source: 'secret-store-history' });
    expect(bundle.secretVersions.versions.find((v) => v.roles.includes('retired'))).toMatchObject({
      enabled: false,
      fingerprint: oldFp,
    });
    expect(bundle.secretVersions.versions.find((v) => v.roles.includes('current'))).toMatchObject({
      enabled: true,
      fingerprint: newFp,
      // What apps read now: activated at the flip (the promote's time), superseded by nothing.
      activatedAt: expect.any(String),
      supersededAt: null,
    });
  });

  it('rolls back after the flip on the operator’s word: the app reads the old key again', async () => {
    const c = rolledBack[backend];
    const app = apps.get(c)!;
    // Past the flip, before revoke: the hold, or its revoke gate if the hold has already passed.
    const holding = await untilPhase(c, ['HOLDING', 'AWAITING_REVOKE_APPROVAL']);
    const { old: oldFp, new: newFp } = holding.fingerprints;
    await app.untilKey(newFp!, 30_000);
    const res = await stack.call('POST', rotationUrl(c, '/rollback'), 'carol', {
      reason: 'drill: roll back after the flip',
    });
    // Accepted: the workflow rolls back on its own time.
    expect(res.statusCode).toBe(202);
    // The store serves the old key again; the replacement key stays enabled (apps that reloaded may
    // still use it) and the rollback waits for its revocation.
    const kept = await stack.untilStatus(
      stack.idOf(c),
      (s) => s.pendingGate?.gate === 'replacement-key-revocation',
      'waiting for the kept replacement key’s revocation',
      { timeoutMs: 2 * 60_000, intervalMs: 1000 },
    );
    expect(kept.versions.restored).toMatchObject({ fingerprint: oldFp, enabled: true });
    expect(fingerprint((await stack.readSecret(c))!)).toBe(oldFp);
    await app.untilKey(oldFp!, 30_000);
    expect(app.stats(oldFp!)!.answers).toEqual({ '200': expect.any(Number) });
    // Once telemetry shows the kept key drained (the check window after the app's last use), bob has
    // it revoked; asked earlier, rekey refuses on record.
    let revoked: RotationStatus | undefined;
    for (let i = 0; i < 12 && !revoked; i++) {
      const ask = await stack.call('POST', rotationUrl(c, '/replacement-key-revocations'), 'bob', {
        reason: 'the app is back on the old key',
      });
      expect(ask.statusCode).toBe(202);
      const after = await stack.untilStatus(
        stack.idOf(c),
        (s) =>
          s.keptReplacementKey?.revokedAt !== undefined ||
          s.timeline.filter((t) => t.event === 'replacement-key-revocation-refused').length > i,
        'the kept key revoked or the revocation refused',
        { timeoutMs: 60_000, intervalMs: 1000 },
      );
      if (after.keptReplacementKey?.revokedAt) revoked = after;
      else await new Promise((r) => setTimeout(r, 10_000));
    }
    expect(revoked?.keptReplacementKey).toMatchObject({ revokedBy: 'bob@example.com' });
    const back = await untilPhase(c, ['ROLLED_BACK']);
    expect(back.versions.restored).toMatchObject({ fingerprint: oldFp, enabled: true });
  });
});

it('leaves no key value in any history, log line or response', async () => {
  // The master key, each credential's old key and each replacement.
  expect(stack.secrets.size).toBeGreaterThanOrEqual(1 + 2 * all.length);
  await stack.assertNoKeyLeaks(all);
});
