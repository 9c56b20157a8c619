import { createHmac, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createExposureRecordStore } from '../../api/exposures/record-store';
import { parseGithubPublicKeys } from '../../api/exposures/signatures';
import { fingerprint, sha256Hex } from '../../domain/fingerprint';
import type { ExposureRecord } from '../../domain/exposure-records';
import {
  rotationStackUnavailableReason,
  startRotationStack,
  type RotationStack,
  type StackCredential,
} from '../helpers/rotation-stack';

// Leak alerts on the real stack (reference gateway, Key Vault, Prometheus, worker, API): signed scanner
// payloads for live keys of LiteLLM credentials start or escalate emergency rotations that end with the
// old key rejected by the gateway, with no human approving the revoke (policy emergency_revoke: alert).
// - a partner-program alert (the token itself) starts an emergency rotation; sent again, it starts
//   nothing and answers the same record;
// - a GitGuardian incident (hmsl_hash: the SHA-256 of the secret) during a running ticket rotation that
//   waits for its flip approval switches it to emergency, and the alert approves the revoke;
// - forged, unsigned and stale alerts are refused 401 and recorded nowhere; a token that is no
//   registered key is "not ours"; a secret_scanning_alert webhook (no secret in it) is unmatchable;
// - no leaked token appears in any history, log line, API response or exposure record.
jest.setTimeout(8 * 60_000);

const run = randomBytes(3).toString('hex');
const leaked: StackCredential = {
  name: `leaked-${run}`,
  environment: 'e2e',
  ticket: `CHG-L${run}`,
  adapter: 'litellm',
};
const running: StackCredential = {
  name: `leak-running-${run}`,
  environment: 'e2e',
  ticket: `CHG-E${run}`,
  adapter: 'litellm',
};

const githubSecret = randomBytes(24).toString('hex');
const gitguardianToken = randomBytes(24).toString('hex');
const partnerKeyId = randomBytes(32).toString('hex');
const { privateKey: partnerKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keysJson = JSON.stringify({
  public_keys: [
    {
      key_identifier: partnerKeyId,
      key: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      is_current: true,
    },
  ],
});
const exposuresDir = mkdtempSync(path.join(process.env.REKEY_TEST_RUN_DIR ?? tmpdir(), 'exposures-'));

const FAST_POLICY = {
  change_ticket: { rollback_owner: 'carol@example.com' },
  allowed_routes: ['chat-completions', 'responses'],
  pre_checks: { inventory_confirmed: true },
  cutover: {
    observation_window_minutes: 1,
    check_interval_minutes: 0.25,
    drain_window_minutes: 0,
    max_hold_minutes: 3,
  },
  thresholds: { min_requests: 20 },
  approvals: { emergency_revoke: 'alert' },
  evidence: {
    auth_error_check: 'required',
    usage_owner_check: 'required',
    cost_anomaly_check: 'required',
    old_key_negative_test: 'required',
  },
};

let stack: RotationStack;
const oldValues = new Map<StackCredential, string>();

const post = (url: string, body: string, headers: Record<string, string>) =>
  stack.call('POST', url, null, body, { 'content-type': 'application/json', ...headers });
const hubSignature = (body: string, secret = githubSecret) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
const partnerHeaders = (body: string, key: KeyObject = partnerKey) => ({
  'GITHUB-PUBLIC-KEY-IDENTIFIER': partnerKeyId,
  'GITHUB-PUBLIC-KEY-SIGNATURE': sign('sha256', Buffer.from(body), { key, dsaEncoding: 'der' }).toString(
    'base64',
  ),
});
const gitguardianHeaders = (body: string, at = Math.floor(Date.now() / 1000)) => ({
  Timestamp: String(at),
  'Gitguardian-Signature': `sha256=${createHmac('sha256', `${at}${gitguardianToken}`).update(body).digest('hex')}`,
});
const partnerBody = (token: string) =>
  JSON.stringify([
    {
      token,
      type: 'litellm_virtual_key',
      url: `https://github.com/example/app/blob/${randomBytes(20).toString('hex')}/.env`,
      source: 'content',
    },
  ]);
const recordFiles = () =>
  readdirSync(exposuresDir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(path.join(e.parentPath, e.name), 'utf8'));
const untilDone = (id: string) =>
  stack.untilPhase(id, ['COMPLETED'], { timeoutMs: 5 * 60_000, intervalMs: 1000, expectOk: true });

const describeVault = rotationStackUnavailableReason() === undefined ? describe : describe.skip;

describeVault('leak alerts start emergency rotations', () => {
  beforeAll(async () => {
    stack = await startRotationStack([leaked, running], {
      registryFields: () => ({ owner: 'platform-ai', rotation_policy: FAST_POLICY }),
      apiDeps: {
        exposures: {
          records: createExposureRecordStore(exposuresDir),
          githubWebhookSecret: githubSecret,
          githubPublicKeys: parseGithubPublicKeys(keysJson),
          gitguardianToken,
          gitguardianToleranceSeconds: 300,
        },
      },
    });
    for (const c of [leaked, running]) {
      oldValues.set(c, (await stack.readSecret(c))!);
      await stack.startApp(c, { requestsPerMinute: 240 });
    }
    await new Promise((r) => setTimeout(r, 3000));
  });

  afterAll(async () => {
    await stack?.close();
    rmSync(exposuresDir, { recursive: true, force: true });
  });

  it('refuses forged, unsigned and stale alerts with 401 and records nothing', async () => {
    const body = partnerBody(oldValues.get(leaked)!);
    const forgedHub = await post('/v1/exposures/github', body, {
      'X-GitHub-Event': 'secret_scanning_alert',
      'X-Hub-Signature-256': hubSignature(body, randomBytes(24).toString('hex')),
    });
    expect(forgedHub.statusCode).toBe(401);
    expect(forgedHub.headers['content-type']).toContain('application/problem+json');

    const unsigned = await post('/v1/exposures/github', body, { 'X-GitHub-Event': 'secret_scanning_alert' });
    expect(unsigned.statusCode).toBe(401);

    const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const forgedPartner = await post('/v1/exposures/github', body, partnerHeaders(body, otherKey));
    expect(forgedPartner.statusCode).toBe(401);
    expect(forgedPartner.json()).toMatchObject({ status: 401 });

    const gg = JSON.stringify({ action: 'incident_triggered', incident: { id: 1, hmsl_hash: 'x' } });
    const stale = await post(
      '/v1/exposures/gitguardian',
      gg,
      gitguardianHeaders(gg, Math.floor(Date.now() / 1000) - 600),
    );
    expect(stale.statusCode).toBe(401);
    expect(stale.json<{ detail: string }>().detail).toMatch(/stale/);
    const forgedGg = await post('/v1/exposures/gitguardian', gg, {
      ...gitguardianHeaders(gg),
      'Gitguardian-Signature': `sha256=${'0'.repeat(64)}`,
    });
    expect(forgedGg.statusCode).toBe(401);

    expect(recordFiles()).toEqual([]);
    // The bearer-token check does not apply to these routes, and the body is not echoed.
    for (const r of [forgedHub, unsigned, forgedPartner])
      expect(r.body).not.toContain(oldValues.get(leaked)!);
  });

  it('answers a malformed signed alert 400', async () => {
    const body = JSON.stringify({ not: 'an array' });
    const res = await post('/v1/exposures/github', body, partnerHeaders(body));
    expect(res.statusCode).toBe(400);
  });

  it('records a token that is no registered key as not ours, with its fingerprint only', async () => {
    const stranger = `sk-${randomBytes(16).toString('hex')}`;
    stack.secrets.add(stranger);
    const body = partnerBody(stranger);
    const res = await post('/v1/exposures/github', body, partnerHeaders(body));
    expect(res.statusCode).toBe(202);
    const [record] = res.json<{ alerts: ExposureRecord[] }>().alerts;
    expect(record).toMatchObject({
      source: 'github-partner',
      action: 'not-ours',
      fingerprint: fingerprint(stranger),
    });
    expect(record!.matched).toBeUndefined();
    expect(record!.rotationId).toBeUndefined();
  });

  it('records a secret_scanning_alert webhook as unmatchable: it carries no secret value', async () => {
    const body = JSON.stringify({
      action: 'created',
      alert: {
        number: 42,
        html_url: 'https://github.com/example/app/security/secret-scanning/42',
        secret_type: 'litellm_virtual_key',
        validity: 'active',
      },
      repository: { full_name: 'example/app' },
    });
    const headers = { 'X-GitHub-Event': 'secret_scanning_alert', 'X-Hub-Signature-256': hubSignature(body) };
    const first = await post('/v1/exposures/github', body, headers);
    expect(first.statusCode).toBe(202);
    expect(first.json()).toMatchObject({
      source: 'github-secret-scanning',
      alertId: 'example/app#42',
      action: 'unmatchable',
      reason: expect.stringMatching(/no secret value/),
    });
    const again = await post('/v1/exposures/github', body, headers);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(first.json());
  });

  it('starts an emergency rotation for a live key from a partner alert, once, and the old key ends rejected', async () => {
    const oldKey = oldValues.get(leaked)!;
    const body = partnerBody(oldKey);
    const res = await post('/v1/exposures/github', body, partnerHeaders(body));
    expect(res.statusCode).toBe(202);
    const [record] = res.json<{ alerts: ExposureRecord[] }>().alerts;
    const alertId = fingerprint(oldKey).replace('sha256:', '');
    expect(record).toMatchObject({
      source: 'github-partner',
      alertId,
      action: 'started',
      matched: { credential: leaked.name, environment: leaked.environment, versionStage: 'current' },
      rotationId: `${leaked.environment}:${leaked.name}:leak-github-partner-${alertId}`,
    });

    // The same alert again (GitHub retries): the same record, nothing new started.
    const again = await post('/v1/exposures/github', body, partnerHeaders(body));
    expect(again.statusCode).toBe(200);
    expect(again.json<{ alerts: ExposureRecord[] }>().alerts).toEqual([record]);

    const done = await untilDone(record!.rotationId!);
    expect(done.mode).toBe('emergency');
    // The verified alert the rotation was started for approved the revoke gate (emergency_revoke: alert).
    expect(done.approvals.find((a) => a.gate === 'revoke')).toMatchObject({
      decision: 'APPROVED',
      proof: { method: 'verified-alert', source: 'github-partner', alertId },
    });
    expect(await stack.gatewayStatus(oldKey)).toBe(401);
    // One rotation for the alert sent twice: this credential's workflow ran once.
    const runs: string[] = [];
    const query = `WorkflowId = 'rekey:${leaked.environment}:${leaked.name}'`;
    for await (const w of stack.client.workflow.list({ query })) runs.push(w.runId);
    expect(runs).toHaveLength(1);

    const evidence = await stack.call(
      'GET',
      `/v1/rotations/${encodeURIComponent(record!.rotationId!)}/evidence`,
      'dave',
    );
    expect(evidence.statusCode).toBe(200);
    expect(evidence.body).toContain(alertId);
    expect(evidence.body).toContain('github-partner');

    const listed = await stack.call('GET', '/v1/exposures', 'dave');
    expect(listed.statusCode).toBe(200);
    expect(listed.json<{ exposures: ExposureRecord[] }>().exposures).toContainEqual(record);
    const one = await stack.call('GET', `/v1/exposures/github-partner/${alertId}`, 'carol');
    expect(one.json()).toEqual(record);
    expect((await stack.call('GET', '/v1/exposures', null)).statusCode).toBe(401);
    expect((await stack.call('GET', '/v1/exposures', 'erin')).statusCode).toBe(403);
  });

  it('switches a running rotation to emergency on a GitGuardian alert; the alert approves the revoke', async () => {
    const oldKey = oldValues.get(running)!;
    const { id } = await stack.start(running, {
      approvals: { flip_approval_required: true, emergency_revoke: 'alert' },
      thresholds: { min_requests: 20 },
    });
    await stack.untilPhase(id, ['AWAITING_FLIP_APPROVAL'], { timeoutMs: 2 * 60_000, intervalMs: 500 });

    const incident = randomBytes(4).readUInt32BE();
    const body = JSON.stringify({
      source: 'GitGuardian',
      timestamp: new Date().toISOString(),
      action: 'incident_triggered',
      message: 'A new incident has been detected.',
      incident: {
        id: incident,
        detector: { name: 'generic_high_entropy_secret' },
        secret_hash: randomBytes(32).toString('base64'),
        hmsl_hash: sha256Hex(oldKey),
        gitguardian_url: `https://dashboard.gitguardian.com/workspace/1/incidents/${incident}`,
        status: 'triggered',
      },
    });
    const res = await post('/v1/exposures/gitguardian', body, gitguardianHeaders(body));
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({
      source: 'gitguardian',
      alertId: String(incident),
      action: 'escalated',
      rotationId: id,
      matched: { credential: running.name, versionStage: 'current' },
    });

    // No flip approval, no revoke approval from a person: the verified alert carries it through.
    const done = await untilDone(id);
    expect(done.mode).toBe('emergency');
    expect(done.escalations?.[0]).toMatchObject({
      principal: `exposure:gitguardian:${incident}`,
      exposure: { source: 'gitguardian', alertId: String(incident) },
    });
    expect(done.approvals.filter((a) => !a.principal.startsWith('exposure:'))).toEqual([]);
    expect(await stack.gatewayStatus(oldKey)).toBe(401);
  });

  it('lets no leaked token into a history, a log line, an API response or an exposure record', async () => {
    for (const v of oldValues.values()) expect(stack.secrets.has(v)).toBe(true);
    await stack.assertNoKeyLeaks([leaked, running], { 'exposure record': recordFiles() });
  });
});
