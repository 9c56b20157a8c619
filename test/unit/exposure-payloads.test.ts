import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FingerprintIndex } from '../../api/exposures/fingerprint-index';
import {
  gitguardianLeak,
  githubPartnerLeaks,
  githubWebhookLeak,
  MalformedAlert,
} from '../../api/exposures/payloads';
import { createExposureRecordStore } from '../../api/exposures/record-store';
import { leakTicketId, type ExposureRecord } from '../../domain/exposure-records';
import { sha256Hex } from '../../domain/fingerprint';
import type { CredentialAutomation } from '../../domain/automation';
import type { SecretStore } from '../../domain/ports';
import type { SecretVersionRecord } from '../../domain/secrets';

const buf = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('alert payloads', () => {
  it('reads a secret_scanning_alert webhook as unmatchable: it carries no secret', () => {
    const leak = githubWebhookLeak(
      buf({
        action: 'created',
        alert: { number: 7, html_url: 'https://github.com/o/r/security/secret-scanning/7', secret_type: 't' },
        repository: { full_name: 'o/r' },
      }),
    );
    expect(leak).toMatchObject({ source: 'github-secret-scanning', alertId: 'o/r#7', secretType: 't' });
    expect(leak.token).toBeUndefined();
    expect(leak.unmatchable).toMatch(/no secret value/);
  });
  it('reads each match of a partner payload, with the token', () => {
    const token = randomBytes(8).toString('hex');
    const leaks = githubPartnerLeaks(
      buf([{ token, type: 't', url: 'https://github.com/x', source: 'content' }]),
    );
    expect(leaks).toEqual([
      { source: 'github-partner', alertId: '', token, secretType: 't', url: 'https://github.com/x' },
    ]);
  });
  it('reads a GitGuardian incident by its hmsl_hash, and refuses to guess from secret_hash', () => {
    const hash = sha256Hex('whatever');
    expect(
      gitguardianLeak(buf({ action: 'incident_triggered', incident: { id: 12, hmsl_hash: hash } })),
    ).toMatchObject({
      source: 'gitguardian',
      alertId: '12',
      sha256: hash,
    });
    expect(gitguardianLeak(buf({ incident: { id: 13, secret_hash: 'abc' } }))?.unmatchable).toMatch(
      /hmsl_hash/,
    );
    expect(gitguardianLeak(buf({ action: 'ping' }))).toBeUndefined();
  });
  it('throws MalformedAlert on bodies that are not the scanner’s shape', () => {
    expect(() => githubPartnerLeaks(Buffer.from('{'))).toThrow(MalformedAlert);
    expect(() => githubPartnerLeaks(buf([]))).toThrow(MalformedAlert);
    expect(() => githubWebhookLeak(buf({ action: 'created' }))).toThrow(MalformedAlert);
  });
  it('derives an identifier ticket id from any alert id', () => {
    expect(leakTicketId('github-secret-scanning', 'o/r#7')).toBe('leak-github-secret-scanning-o-r-7');
    expect(leakTicketId('gitguardian', '///')).toBe('leak-gitguardian-alert');
  });
});

describe('the fingerprint index', () => {
  const values = ['v1', 'v2', 'v3'].map((v) => `${v}-${randomBytes(6).toString('hex')}`);
  let current = 2;
  let reads = 0;
  const history: SecretVersionRecord[] = values.map((_, i) => ({
    store: 's',
    name: 'app',
    version: `ver${i}`,
    enabled: true,
    createdAt: new Date(Date.now() - (3 - i) * 86_400_000).toISOString(),
    tags: {},
  }));
  const store = {
    readCurrent: async () => ({ name: 'app', version: `ver${current}`, fingerprint: 'sha256:000000000000' }),
    resolve: async (ref: { version: string }) => {
      reads++;
      return values[Number(ref.version.slice(3))]!;
    },
    history: async () => history,
  } as unknown as SecretStore;
  const automation = { name: 'chat', environment: 'prod' } as CredentialAutomation;
  const registry = {
    automations: () => [automation],
    lookup: () => ({ name: 'chat', environment: 'prod' }) as never,
  };

  it('matches the current and previous versions by SHA-256, bounded to maxVersions', async () => {
    const index = new FingerprintIndex(registry, () => store, { maxVersions: 2 });
    expect(await index.match(sha256Hex(values[2]!))).toEqual({
      credential: 'chat',
      environment: 'prod',
      versionStage: 'current',
    });
    expect(await index.match(sha256Hex(values[1]!))).toMatchObject({ versionStage: 'previous' });
    // ver0 is beyond the two newest versions.
    expect(await index.match(sha256Hex(values[0]!))).toBeUndefined();
    expect(index.size).toBe(2);
  });
  it('rebuilds on a miss at most every minRebuildMs, so a just-rotated key matches', async () => {
    let now = 1_000_000;
    reads = 0;
    current = 1;
    const index = new FingerprintIndex(registry, () => store, {
      maxVersions: 1,
      minRebuildMs: 5000,
      now: () => now,
    });
    expect(await index.match(sha256Hex(values[2]!))).toBeUndefined();
    const afterFirst = reads;
    expect(await index.match(sha256Hex(values[2]!))).toBeUndefined();
    expect(reads).toBe(afterFirst);
    current = 2;
    now += 6000;
    expect(await index.match(sha256Hex(values[2]!))).toMatchObject({ versionStage: 'current' });
  });
});

describe('the exposure record store', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'exposure-records-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const record: ExposureRecord = {
    source: 'github-secret-scanning',
    alertId: 'o/r#1',
    receivedAt: new Date().toISOString(),
    action: 'unmatchable',
    reason: 'no token',
  };

  it('keeps the first record of an alert and answers it again', async () => {
    const store = createExposureRecordStore(dir);
    expect(await store.putIfAbsent(record)).toEqual({ stored: true, record });
    const second = await store.putIfAbsent({ ...record, action: 'not-ours' });
    expect(second).toEqual({ stored: false, record });
    expect(await store.get('github-secret-scanning', 'o/r#1')).toEqual(record);
    expect(await store.get('gitguardian', 'o/r#1')).toBeUndefined();
    expect(await store.list(10)).toEqual([record]);
  });
});
