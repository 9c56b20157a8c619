import { buildEvidenceBundle } from '../../activities/evidence/build-bundle';
import { evidenceBundleSchema } from '../../domain/evidence/bundle-schema';
import { renderEvidenceMarkdown } from '../../domain/evidence/markdown';
import type { RotationStatus } from '../../domain/status';
import {
  evidenceCredential,
  evidenceHistory,
  evidenceInput,
  evidenceStatus,
} from '../helpers/evidence-fixtures';

// The evidence of a gateway with replicas: the negative test per replica, the old key's grace just
// before revoke, and a replica that cut the old key early as a breach in the post-change review.
const A = 'http://10.0.0.1:4000/v1';
const B = 'http://10.0.0.2:4000/v1';

function replicatedStatus(graceOnB: number): RotationStatus {
  const s = evidenceStatus();
  s.negativeTest = {
    ...s.negativeTest!,
    replicas: [A, B].map((replica) => ({
      replica,
      oldKeyStatus: 401,
      oldKeyRejected: true,
      newKeyStatus: 200,
      newKeyAccepted: true,
      attempts: replica === A ? 1 : 3,
    })),
  };
  const grace = [
    { replica: A, status: 200, ok: true },
    { replica: B, status: graceOnB, ok: graceOnB === 200 },
  ];
  s.revocation = {
    ...s.revocation!,
    oldKeyGrace: { passed: graceOnB === 200, at: s.negativeTest.at, replicas: grace },
  };
  if (graceOnB !== 200) {
    s.checks.push({
      at: s.negativeTest.at,
      name: 'old-key grace',
      passed: false,
      verdict: 'fail',
      detail: `${A}:200 ${B}:${graceOnB}`,
      breaches: [{ check: 'old-key-grace', observed: 1, limit: 0, detail: 'consumers lost service early' }],
    });
  }
  return s;
}
const build = (s: RotationStatus) =>
  buildEvidenceBundle(s, { input: evidenceInput(), credential: evidenceCredential() }, evidenceHistory(), {
    generatedAt: '2026-06-19T11:20:14.000Z',
  });

describe('evidence of a gateway with replicas', () => {
  it('records the negative test and the old key’s grace on each replica, and shows them in the markdown', () => {
    const b = build(replicatedStatus(200));
    expect(evidenceBundleSchema.safeParse(b).success).toBe(true);
    expect(b.negativeTest.replicas!.map((r) => [r.replica, r.oldKeyStatus, r.attempts])).toEqual([
      [A, 401, 1],
      [B, 401, 3],
    ]);
    expect(b.negativeTest.revocation!.oldKeyGrace).toMatchObject({
      passed: true,
      note: 'the old key answered 2xx on every replica until rekey revoked it',
    });
    expect(b.postChangeReview.breaches.filter((x) => x.check === 'old-key-grace')).toEqual([]);
    const md = renderEvidenceMarkdown(b, { sha256: 'a'.repeat(64), previousSha256: null });
    expect(md).toContain('Negative test on each replica:');
    expect(md).toMatch(new RegExp(`\\| ${B.replace(/[.:/]/g, '\\$&')} \\| 401 \\| 200 \\| 3 \\|`));
  });

  it('names a replica that cut the old key early and lists it as a breach of the post-change review', () => {
    const b = build(replicatedStatus(401));
    expect(evidenceBundleSchema.safeParse(b).success).toBe(true);
    expect(b.negativeTest.revocation!.oldKeyGrace!.note).toMatch(
      new RegExp(`cut the old key early on ${B.replace(/[.:/]/g, '\\$&')} \\(401\\).*lost service`),
    );
    expect(b.postChangeReview.breaches).toEqual(
      expect.arrayContaining([expect.objectContaining({ check: 'old-key-grace', observed: 1, limit: 0 })]),
    );
    const md = renderEvidenceMarkdown(b, { sha256: 'a'.repeat(64), previousSha256: null });
    expect(md).toMatch(/Old key just before revoke: the gateway cut the old key early/);
  });

  it('leaves the bundle of a single gateway as it was', () => {
    const b = build(evidenceStatus());
    expect(b.negativeTest).not.toHaveProperty('replicas');
    expect(b.negativeTest.revocation).not.toHaveProperty('oldKeyGrace');
  });
});
