// The AWS Secrets Manager SecretStore against a real moto server (the one global setup starts; an
// IAM-enforcing one of this file's own for AccessDenied): AWSPENDING / AWSCURRENT / AWSPREVIOUS moved the way
// AWS's rotation model moves them, idempotent ClientRequestTokens, stale AWSPENDING cleared on record,
// rekey's per-version facts within AWS's 50 tags, errors mapped once, requests bounded in time. Every key
// value is random, made at run time, and checked to appear in no result, log line or error.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { fingerprint } from '../../domain/fingerprint';
import type { SecretStore } from '../../domain/ports';
import {
  ALLOW_HTTP_ENDPOINT_ENV,
  AWS_TAG_LIMITS,
  awsFailure,
  AwsFailureTypes,
  awsRotationTag,
  awsSecretsManagerBackend,
  createSecretsManagerClient,
  createSecretsManagerStore,
  decodeFacts,
  factsKey,
  stageToken,
} from '../../activities/secrets/aws-secrets-manager';
import { FailureTypes } from '../../domain/failure-types';
import { rotationIdFor } from '../../domain/policy';
import type { Fingerprint, SecretLocationOf, SecretVersionRef } from '../../domain/secrets';
import { freePort } from '../../scripts/local-stack';
import { startMoto, type RunningMoto } from '../../scripts/stores/moto';
import type { RunningServer } from '../../scripts/local-stack';
import { appReadCurrent, MOTO_ENV, MOTO_REGION, motoClient, motoUrl } from '../contract/aws-secrets-manager';
import { HARNESS_STATE_ENV, type HarnessState } from '../harness/harness-state';
import { leakWatch } from '../helpers/leak-watch';

type AwsLocation = SecretLocationOf<'aws-secrets-manager'>;

const { keys, observed, logLines, logger, newKey, seen, failure } = leakWatch('sk-aws');

const rotation = () =>
  rotationIdFor('test', `cred-${randomBytes(3).toString('hex')}`, `CHG-${randomBytes(4).toString('hex')}`);

/** Which of the test's values `v` is, so that a failed expectation never prints a key. */
function which(v: string | undefined, named: Record<string, string>): string {
  if (v === undefined) return '(nothing)';
  for (const [name, value] of Object.entries(named)) if (v === value) return name;
  return '(another value)';
}

const proven = (staged: SecretVersionRef): { version: string; fingerprint: Fingerprint } => ({
  version: staged.version,
  fingerprint: staged.fingerprint,
});

const closers: Array<() => Promise<void>> = [];

/** Also stops servers this file starts when the jest process dies: global teardown reads this list. */
function recordServer(server: RunningServer): void {
  const file = process.env[HARNESS_STATE_ENV];
  if (!file || !existsSync(file)) return;
  const state = JSON.parse(readFileSync(file, 'utf8')) as HarnessState;
  state.servers.push({ name: server.name, pid: server.pid, started: server.started });
  writeFileSync(file, JSON.stringify(state));
}

describe('the AWS Secrets Manager SecretStore', () => {
  let admin: SecretsManagerClient;

  beforeAll(() => {
    admin = motoClient();
  });

  afterAll(async () => {
    for (const close of closers.reverse()) await close();
  });

  /** A secret holding `old` as AWSCURRENT, created the way a platform team would, and its store. */
  async function credential(opts: { tags?: Array<{ Key: string; Value: string }>; endpoint?: string } = {}) {
    const old = newKey('old');
    const secretId = `rekey-test/${randomBytes(5).toString('hex')}`;
    const created = await admin.send(
      new CreateSecretCommand({
        Name: secretId,
        SecretString: old,
        ...(opts.tags ? { Tags: opts.tags } : {}),
      }),
    );
    const location: AwsLocation = {
      backend: 'aws-secrets-manager',
      region: MOTO_REGION,
      endpoint: opts.endpoint ?? motoUrl(),
      secretId,
    };
    const session = awsSecretsManagerBackend.connect({ env: MOTO_ENV, logger });
    return {
      old,
      secretId,
      location,
      session,
      store: session.open(location),
      initial: created.VersionId ?? '',
    };
  }

  /** Labels per version, as AWS reports them (unlabelled versions left out). */
  async function labels(secretId: string): Promise<Record<string, string[]>> {
    const d = await admin.send(new DescribeSecretCommand({ SecretId: secretId }));
    return Object.fromEntries(Object.entries(d.VersionIdsToStages ?? {}).filter(([, ls]) => ls.length > 0));
  }

  async function versionIds(secretId: string): Promise<string[]> {
    const l = await admin.send(
      new ListSecretVersionIdsCommand({ SecretId: secretId, IncludeDeprecated: true }),
    );
    return (l.Versions ?? []).map((v) => v.VersionId ?? '').sort();
  }

  async function tagsOf(secretId: string): Promise<Record<string, string>> {
    const d = await admin.send(new DescribeSecretCommand({ SecretId: secretId }));
    return Object.fromEntries((d.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
  }

  /** Runs a step as a retried activity would: twice. The retry returns the same and changes nothing. */
  async function twice<T>(secretId: string, step: () => Promise<T>): Promise<T> {
    const first = seen(await step());
    const after = {
      labels: await labels(secretId),
      versions: await versionIds(secretId),
      tags: await tagsOf(secretId),
    };
    const again = seen(await step());
    expect(again).toEqual(first);
    expect({
      labels: await labels(secretId),
      versions: await versionIds(secretId),
      tags: await tagsOf(secretId),
    }).toEqual(after);
    return first;
  }

  /** What an app of this secret reads now. */
  const appRead = (secretId: string) => appReadCurrent(admin, secretId);

  it('stages the replacement as an AWSPENDING version whose id is the token of the rotation and key; a retry writes nothing', async () => {
    const c = await credential();
    const rot = rotation();
    const next = newKey('new');
    const staged = await twice(c.secretId, () => c.store.stagePending(rot, next, 'gk-aws-1'));
    expect(staged).toMatchObject({
      store: motoUrl(),
      name: c.secretId,
      version: stageToken(rot, fingerprint(next)),
      fingerprint: fingerprint(next),
      enabled: true,
      gatewayKeyId: 'gk-aws-1',
    });
    expect(await labels(c.secretId)).toEqual({
      [c.initial]: ['AWSCURRENT'],
      [staged.version]: ['AWSPENDING'],
    });
    expect(seen(await c.store.readPending(rot))).toEqual(staged);
    // What the SDK resends after a lost answer: the same token and value. AWS ignores it; moto 5.2.5 rewrites
    // the version in place (a new CreatedDate, same id, value and labels), so there is still one version.
    await admin.send(
      new PutSecretValueCommand({
        SecretId: c.secretId,
        ClientRequestToken: staged.version,
        SecretString: next,
        VersionStages: ['AWSPENDING'],
      }),
    );
    expect(await versionIds(c.secretId)).toEqual([c.initial, staged.version].sort());
    const { createdAt: _createdAt, ...same } = staged;
    expect(seen(await c.store.readPending(rot))).toMatchObject(same);
    expect(decodeFacts((await tagsOf(c.secretId))[factsKey(staged.version)])).toEqual({
      stage: 'pending',
      fingerprint: fingerprint(next),
      rotation: rot,
      gatewayKeyId: 'gk-aws-1',
    });
    expect(seen(await c.store.readPending(rotation()))).toBeUndefined();
    expect(which(await appRead(c.secretId), { old: c.old, next })).toBe('old');
  });

  it('a second hand-off of the same rotation is another version, and AWSPENDING moves to it', async () => {
    const c = await credential();
    const rot = rotation();
    const [first, second] = [newKey('first'), newKey('second')];
    const a = seen(await c.store.stagePending(rot, first));
    const b = seen(await c.store.stagePending(rot, second));
    expect(b.version).not.toBe(a.version);
    expect(await labels(c.secretId)).toEqual({ [c.initial]: ['AWSCURRENT'], [b.version]: ['AWSPENDING'] });
    expect(seen(await c.store.readPending(rot))).toEqual(b);
    expect(logLines.some((l) => l.includes(a.version) && l.includes('earlier hand-off'))).toBe(true);
  });

  it('removes a stale AWSPENDING left by another run on a version that is not AWSCURRENT, on record', async () => {
    const c = await credential();
    // A rotation that died after writing its pending version (another rekey run, or AWS's rotation Lambda).
    const stale = await admin.send(
      new PutSecretValueCommand({
        SecretId: c.secretId,
        SecretString: newKey('stale'),
        VersionStages: ['AWSPENDING'],
      }),
    );
    const rot = rotation();
    const staged = seen(await c.store.stagePending(rot, newKey('new')));
    expect(await labels(c.secretId)).toEqual({
      [c.initial]: ['AWSCURRENT'],
      [staged.version]: ['AWSPENDING'],
    });
    const warned = logLines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.version === stale.VersionId);
    expect(warned).toMatchObject({ level: 'warn', rotationId: rot, owner: null, secret: c.secretId });
    expect(String(warned?.msg)).toContain('stale AWSPENDING');
  });

  it('removes an AWSPENDING left on the AWSCURRENT version (a finished rotation), and stages', async () => {
    const c = await credential();
    await admin.send(
      new UpdateSecretVersionStageCommand({
        SecretId: c.secretId,
        VersionStage: 'AWSPENDING',
        MoveToVersionId: c.initial,
      }),
    );
    const staged = seen(await c.store.stagePending(rotation(), newKey('new')));
    expect(await labels(c.secretId)).toEqual({
      [c.initial]: ['AWSCURRENT'],
      [staged.version]: ['AWSPENDING'],
    });
  });

  it('promotes by moving AWSCURRENT to the canaried version and AWSPREVIOUS to the replaced one, AWSPENDING removed; a retry writes nothing', async () => {
    const c = await credential();
    const rot = rotation();
    const next = newKey('new');
    const staged = seen(await c.store.stagePending(rot, next, 'gk-aws-promote'));
    const { current, previous } = await twice(c.secretId, () => c.store.promote(rot, proven(staged)));
    expect(current).toMatchObject({
      version: staged.version,
      fingerprint: fingerprint(next),
      enabled: true,
      gatewayKeyId: 'gk-aws-promote',
    });
    expect(previous).toMatchObject({ version: c.initial, fingerprint: fingerprint(c.old), enabled: true });
    expect(await labels(c.secretId)).toEqual({
      [staged.version]: ['AWSCURRENT'],
      [c.initial]: ['AWSPREVIOUS'],
    });
    expect(which(await appRead(c.secretId), { old: c.old, next })).toBe('next');
    const tags = await tagsOf(c.secretId);
    expect(decodeFacts(tags[factsKey(staged.version)])).toMatchObject({
      stage: 'current',
      replaces: c.initial,
      rotation: rot,
    });
    expect(decodeFacts(tags[factsKey(c.initial)])).toEqual({
      stage: 'previous',
      fingerprint: fingerprint(c.old),
    });
    expect(seen(await c.store.readPending(rot))).toBeUndefined();
  });

  it("records moto 5.2.5's quirk: after the flip, a read without a stage still answers the old value", async () => {
    // Real AWS answers AWSCURRENT; rekey and the test apps ask for AWSCURRENT by label, so neither depends on it.
    const c = await credential();
    const rot = rotation();
    const next = newKey('new');
    await c.store.promote(rot, proven(await c.store.stagePending(rot, next)));
    const unlabelled = await admin.send(new GetSecretValueCommand({ SecretId: c.secretId }));
    expect(which(unlabelled.SecretString, { old: c.old, next })).toBe('old');
    expect(which(await appRead(c.secretId), { old: c.old, next })).toBe('next');
  });

  it('refuses to promote another version or fingerprint than the canaried pair, moving no label', async () => {
    const c = await credential();
    const rot = rotation();
    const staged = seen(await c.store.stagePending(rot, newKey('new')));
    const before = await labels(c.secretId);
    for (const expected of [
      { version: staged.version, fingerprint: fingerprint(newKey('never-staged')) },
      { version: c.initial, fingerprint: fingerprint(c.old) },
    ]) {
      const err = await failure(c.store.promote(rot, expected));
      expect(err).toMatchObject({ type: FailureTypes.StagedKeyMismatch, nonRetryable: true });
    }
    expect(await labels(c.secretId)).toEqual(before);
  });

  it('rolls back by moving AWSCURRENT back; the rolled-back version keeps no label and is not resolved; a retry writes nothing', async () => {
    const c = await credential();
    const rot = rotation();
    const next = newKey('new');
    const staged = await c.store.stagePending(rot, next);
    const { current } = seen(await c.store.promote(rot, proven(staged)));
    const { restored, disabled } = await twice(c.secretId, () => c.store.rollback(rot));
    expect(restored).toMatchObject({ version: c.initial, fingerprint: fingerprint(c.old), enabled: true });
    expect(disabled).toMatchObject({
      version: current.version,
      fingerprint: fingerprint(next),
      enabled: false,
    });
    expect(await labels(c.secretId)).toEqual({ [c.initial]: ['AWSCURRENT'] });
    expect(which(await appRead(c.secretId), { old: c.old, next })).toBe('old');
    const err = await failure(c.store.resolve(current));
    expect(err).toMatchObject({ type: FailureTypes.SecretDisabled, nonRetryable: true });
    const promoteAgain = await failure(c.store.promote(rot, proven(staged)));
    expect(promoteAgain).toMatchObject({ type: AwsFailureTypes.RotationRolledBack, nonRetryable: true });
  });

  it('retires the previous version by removing its labels; a retry writes nothing', async () => {
    const c = await credential();
    const rot = rotation();
    const next = newKey('new');
    await c.store.promote(rot, proven(await c.store.stagePending(rot, next)));
    const retired = await twice(c.secretId, () => c.store.retirePrevious(rot));
    expect(retired).toMatchObject({ version: c.initial, fingerprint: fingerprint(c.old), enabled: false });
    expect(Object.values(await labels(c.secretId))).toEqual([['AWSCURRENT']]);
    expect(which(await appRead(c.secretId), { old: c.old, next })).toBe('next');
    expect(seen(await c.store.history()).find((r) => r.version === c.initial)).toMatchObject({
      stage: 'retired',
      enabled: false,
    });
  });

  it("discards only this rotation's AWSPENDING; a retry writes nothing", async () => {
    const c = await credential();
    const rot = rotation();
    const staged = seen(await c.store.stagePending(rot, newKey('new')));
    await c.store.discardPending(rotation());
    expect(await labels(c.secretId)).toEqual({
      [c.initial]: ['AWSCURRENT'],
      [staged.version]: ['AWSPENDING'],
    });
    await twice(c.secretId, () => c.store.discardPending(rot));
    expect(await labels(c.secretId)).toEqual({ [c.initial]: ['AWSCURRENT'] });
    expect(seen(await c.store.readPending(rot))).toBeUndefined();
    expect(seen(await c.store.history()).find((r) => r.version === staged.version)).toMatchObject({
      stage: 'pending',
      enabled: false,
    });
  });

  it('an app reading AWSCURRENT sees old, then new, then old across flip and rollback, never a gap', async () => {
    const c = await credential();
    const rot = rotation();
    const next = newKey('new');
    const staged = await c.store.stagePending(rot, next);
    const reads: string[] = [];
    let stop = false;
    const reader = (async () => {
      while (!stop) reads.push(which(await appRead(c.secretId), { old: c.old, new: next }));
    })();
    const until = async (predicate: () => boolean) => {
      for (const end = Date.now() + 15_000; !predicate(); await sleep(10))
        if (Date.now() > end) throw new Error('the app reader did not get there');
    };
    try {
      await until(() => reads.length >= 3);
      seen(await c.store.promote(rot, proven(staged)));
      await until(() => reads.at(-1) === 'new');
      const flipped = reads.length;
      await until(() => reads.length >= flipped + 3);
      seen(await c.store.rollback(rot));
      await until(() => reads.at(-1) === 'old');
    } finally {
      stop = true;
      await reader;
    }
    expect(reads.filter((r, i) => r !== reads[i - 1])).toEqual(['old', 'new', 'old']);
  });

  it("keeps rekey's facts within AWS's 50 tags: prunes those of long-unlabelled versions, never the platform team's", async () => {
    const userTags = Array.from({ length: AWS_TAG_LIMITS.count - 3 }, (_, i) => ({
      Key: `team-${i}`,
      Value: `v${i}`,
    }));
    const c = await credential({ tags: userTags });
    for (let round = 0; round < 3; round++) {
      const rot = rotation();
      await c.store.promote(rot, proven(await c.store.stagePending(rot, newKey(`round-${round}`))));
      await c.store.retirePrevious(rot);
      const tags = await tagsOf(c.secretId);
      expect(Object.keys(tags).length).toBeLessThanOrEqual(AWS_TAG_LIMITS.count);
      for (const t of userTags) expect(tags[t.Key]).toBe(t.Value);
    }
    // The oldest retired versions lost their facts; the live ones kept theirs.
    const tags = await tagsOf(c.secretId);
    expect(tags[factsKey(c.initial)]).toBeUndefined();
    const [live] = Object.keys(await labels(c.secretId));
    expect(decodeFacts(tags[factsKey(live ?? '')])).toMatchObject({ stage: 'current' });
    expect(logLines.some((l) => l.includes(factsKey(c.initial)) && l.includes('pruned'))).toBe(true);
  });

  it("refuses to stage, writing nothing, when the platform team's tags leave no room", async () => {
    const c = await credential({
      tags: Array.from({ length: AWS_TAG_LIMITS.count }, (_, i) => ({ Key: `team-${i}`, Value: 'x' })),
    });
    const err = await failure(c.store.stagePending(rotation(), newKey('new')));
    expect(err).toMatchObject({ type: AwsFailureTypes.TagLimit, nonRetryable: true });
    expect(err.message).toContain(c.secretId);
    expect(await versionIds(c.secretId)).toEqual([c.initial]);
  });

  it('records rotation ids outside the tag character set exactly, and those too long for a tag by their hash', async () => {
    const c = await credential();
    const odd = 'prod:pay ment:CHG #42 ümlaut_x';
    await c.store.stagePending(odd, newKey('odd'));
    expect(seen(await c.store.history()).find((r) => r.stage === 'pending')?.rotationId).toBe(odd);
    const long = `prod:payments:${'x'.repeat(200)}`;
    const d = await credential();
    const staged = seen(await d.store.stagePending(long, newKey('long')));
    expect(seen(await d.store.readPending(long))).toEqual(staged);
    expect(seen(await d.store.history()).find((r) => r.stage === 'pending')?.rotationId).toBe(
      awsRotationTag(long),
    );
    expect(awsRotationTag(long)).toMatch(/^sha256:[0-9a-f]{32}$/);
  });

  it('reads another secret of the same region by AWSCURRENT, also after that secret was rotated (readValue)', async () => {
    const c = await credential();
    const name = `rekey-test/admin-${randomBytes(4).toString('hex')}`;
    const [adminKey, rotated] = [newKey('admin'), newKey('admin-rotated')];
    const created = await admin.send(new CreateSecretCommand({ Name: name, SecretString: adminKey }));
    expect(which(await c.session.readValue(c.location, name), { adminKey, rotated })).toBe('adminKey');
    const put = await admin.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: rotated, VersionStages: ['AWSPENDING'] }),
    );
    await admin.send(
      new UpdateSecretVersionStageCommand({
        SecretId: name,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: put.VersionId,
        RemoveFromVersionId: created.VersionId,
      }),
    );
    expect(which(await c.session.readValue(c.location, name), { adminKey, rotated })).toBe('rotated');
  });

  it('a missing secret is SecretNotFound and one scheduled for deletion SecretDisabled, both non-retryable and named', async () => {
    const gone = await credential();
    await admin.send(new DeleteSecretCommand({ SecretId: gone.secretId, ForceDeleteWithoutRecovery: true }));
    expect(await failure(gone.store.readCurrent())).toMatchObject({
      type: FailureTypes.SecretNotFound,
      nonRetryable: true,
    });
    const scheduled = await credential();
    await admin.send(new DeleteSecretCommand({ SecretId: scheduled.secretId, RecoveryWindowInDays: 7 }));
    const err = await failure(scheduled.store.readCurrent());
    expect(err).toMatchObject({ type: FailureTypes.SecretDisabled, nonRetryable: true });
    expect(err.message).toContain(scheduled.secretId);
    expect(err.message).toContain('RestoreSecret');
  });

  it("maps Secrets Manager's own InvalidParameter and InvalidRequest answers to non-retryable rejections", async () => {
    const c = await credential();
    const ctx = { store: motoUrl(), secretId: c.secretId, operation: 'move AWSCURRENT in' };
    const answers: unknown[] = [];
    for (const call of [
      // InvalidParameterException: the label is not on the version named.
      () =>
        admin.send(
          new UpdateSecretVersionStageCommand({
            SecretId: c.secretId,
            VersionStage: 'AWSCURRENT',
            MoveToVersionId: c.initial,
            RemoveFromVersionId: 'rekey-00000000000000000000000000000000',
          }),
        ),
      // InvalidRequestException: a version id and a label that do not go together.
      () =>
        admin.send(
          new GetSecretValueCommand({
            SecretId: c.secretId,
            VersionId: c.initial,
            VersionStage: 'AWSPENDING',
          }),
        ),
    ])
      await call().then(
        () => answers.push(undefined),
        (err: unknown) => answers.push(err),
      );
    expect(answers.map((e) => (e as Error | undefined)?.name)).toEqual([
      'InvalidParameterException',
      'InvalidRequestException',
    ]);
    for (const err of answers) {
      const mapped = seen(awsFailure(err, ctx));
      expect(mapped).toMatchObject({ type: AwsFailureTypes.RequestRejected, nonRetryable: true });
      expect(mapped.message).toContain(c.secretId);
    }
  });

  it('maps AccessDenied to a non-retryable VaultForbidden naming the secret (moto with IAM enforced)', async () => {
    // The first four requests are unauthenticated: the secret, a user, its key, and a policy that only describes.
    const own: RunningMoto = await startMoto({
      port: await freePort(),
      logFile: path.join(
        process.env.REKEY_TEST_RUN_DIR ?? '/tmp',
        `moto-iam-${randomBytes(3).toString('hex')}.log`,
      ),
      enforceIamAfter: 4,
    });
    recordServer(own);
    closers.push(() => own.stop());
    const root = motoClient(own.url);
    const secretId = `rekey-test/locked-${randomBytes(4).toString('hex')}`;
    await root.send(new CreateSecretCommand({ Name: secretId, SecretString: newKey('locked') }));
    const iam = async (params: Record<string, string>) => {
      const res = await fetch(`${own.url}/`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization:
            'AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0',
        },
        body: new URLSearchParams({ Version: '2010-05-08', ...params }),
      });
      expect(res.status).toBe(200);
      return res.text();
    };
    await iam({ Action: 'CreateUser', UserName: 'rekey-reader' });
    const key = await iam({ Action: 'CreateAccessKey', UserName: 'rekey-reader' });
    await iam({
      Action: 'PutUserPolicy',
      UserName: 'rekey-reader',
      PolicyName: 'describe-only',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: ['secretsmanager:DescribeSecret'], Resource: '*' }],
      }),
    });
    const session = awsSecretsManagerBackend.connect({
      env: {
        AWS_ACCESS_KEY_ID: /<AccessKeyId>([^<]+)</.exec(key)?.[1] ?? '',
        AWS_SECRET_ACCESS_KEY: /<SecretAccessKey>([^<]+)</.exec(key)?.[1] ?? '',
      },
      logger,
    });
    const store = session.open({
      backend: 'aws-secrets-manager',
      region: MOTO_REGION,
      endpoint: own.url,
      secretId,
    });
    for (const call of [() => store.readCurrent(), () => store.stagePending(rotation(), newKey('denied'))]) {
      const err = await failure(call());
      expect(err).toMatchObject({ type: FailureTypes.VaultForbidden, nonRetryable: true });
      expect(err.message).toContain(secretId);
      expect(err.message).toContain('secretsmanager:GetSecretValue');
    }
  });

  it('an unreachable endpoint fails retryable, naming the store, within the operation deadline', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const { store } = await credential({ endpoint });
    const started = Date.now();
    const err = await failure(store.readCurrent());
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(err).toMatchObject({ type: AwsFailureTypes.Unavailable, nonRetryable: false });
    expect(err.message).toContain(endpoint);
  });

  describe('against an endpoint that accepts connections and never answers', () => {
    let endpoint: string;
    beforeAll(async () => {
      const sockets = new Set<net.Socket>();
      const hung = net.createServer((s) => void sockets.add(s));
      await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
      endpoint = `http://127.0.0.1:${(hung.address() as net.AddressInfo).port}`;
      closers.push(async () => {
        for (const s of sockets) s.destroy();
        await new Promise((resolve) => hung.close(resolve));
      });
    });

    function hungStore(opts: { deadlineMs?: number } = {}): { store: SecretStore; location: AwsLocation } {
      const location: AwsLocation = {
        backend: 'aws-secrets-manager',
        region: MOTO_REGION,
        endpoint,
        secretId: 'rekey-test/hung',
      };
      const client = createSecretsManagerClient(location, {
        credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
        allowHttpEndpoint: false,
      });
      return { location, store: createSecretsManagerStore({ client, location, logger, ...opts }) };
    }

    it('gives up at its own deadline outside an activity (the API hand-off), retryable', async () => {
      const { store } = hungStore({ deadlineMs: 800 });
      const started = Date.now();
      const err = await failure(store.stagePending(rotation(), newKey('hung')));
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(err).toMatchObject({ type: AwsFailureTypes.Unavailable, nonRetryable: false });
      expect(err.message).toContain('deadline');
    });

    it('stops at once when the activity running the operation is cancelled', async () => {
      const { store } = hungStore();
      const env = new MockActivityEnvironment();
      let operation: Promise<unknown> | undefined;
      const run = env.run(() => (operation = store.readCurrent()));
      run.catch(() => undefined);
      await sleep(300);
      // What the worker does at the start-to-close timeout.
      env.cancel('TIMED_OUT');
      const stoppedAt = Date.now();
      const stopped = await operation!.then(
        () => undefined,
        (err: unknown) => err,
      );
      observed.push(String(stopped));
      expect(Date.now() - stoppedAt).toBeLessThan(1_000);
      expect(stopped).toBeInstanceOf(CancelledFailure);
    });
  });

  it('refuses a plain-HTTP endpoint that is not loopback, unless a development flag allows it', async () => {
    const location: AwsLocation = {
      backend: 'aws-secrets-manager',
      region: MOTO_REGION,
      endpoint: 'http://moto.internal:5000',
      secretId: 'rekey-test/insecure',
    };
    let thrown: unknown;
    try {
      awsSecretsManagerBackend.connect({ env: MOTO_ENV }).open(location);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ type: AwsFailureTypes.InsecureEndpoint, nonRetryable: true });
    expect(() =>
      awsSecretsManagerBackend
        .connect({ env: { ...MOTO_ENV, [ALLOW_HTTP_ENDPOINT_ENV]: 'true' } })
        .open(location),
    ).not.toThrow();
  });

  it('fails at connect, naming the missing variable, when only half of a static key pair is given', () => {
    expect(() => awsSecretsManagerBackend.connect({ env: { AWS_ACCESS_KEY_ID: 'only-the-id' } })).toThrow(
      /AWS_SECRET_ACCESS_KEY is not set/,
    );
  });

  it('no key value reached a result, a log line or an error', () => {
    expect(keys.length).toBeGreaterThan(20);
    expect(logLines.length).toBeGreaterThan(10);
    const leaks: string[] = [];
    for (const [where, lines] of [
      ['result or error', observed],
      ['log line', logLines],
    ] as const)
      lines.forEach((line, i) =>
        keys.forEach((key, k) => {
          if (line.includes(key)) leaks.push(`${where} #${i} holds key #${k}`);
        }),
      );
    expect(leaks).toEqual([]);
  });
});
