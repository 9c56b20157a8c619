import { randomBytes, randomUUID } from 'node:crypto';
import { createSecretClient } from '../../activities/secrets/azure-key-vault';
import type { ScheduleSyncReport, ScheduleView } from '../../cli/client';
import { waitFor } from '../../scripts/local-stack';
import { ChangeTicketKey } from '../../workflows/search-attributes';
import { expiryTicketId } from '../../workflows/scheduled-rotation';
import { workflowExists } from '../helpers/terminate-running';
import {
  rotationStackUnavailableReason,
  stackAutoPolicy,
  startRotationStack,
  type RotationStack,
  type StackCredential,
} from '../helpers/rotation-stack';

// Key Vault expiry on the real stack (Temporal dev server, the reference Key Vault, gateway, worker,
// API): the current version of a credential's secret expires in 10 days, inside its 14-day lead time.
// Azure Event Grid's SecretNearExpiry event for it, in the Event Grid schema and in CloudEvents, fires
// the credential's expiry schedule; expiryWatch reads the expiry from Key Vault itself and starts the
// rotation under the expiry's ticket. Event Grid's handshakes (the validation event; CloudEvents'
// OPTIONS) are answered; a delivery without the subscription's secret is refused and starts nothing;
// an event for a secret rekey does not manage is "not ours".
jest.setTimeout(8 * 60_000);

const run = randomBytes(3).toString('hex');
const expiring: StackCredential = {
  name: `expiring-${run}`,
  environment: 'e2e',
  ticket: `CHG-X${run}`,
  adapter: 'litellm',
};
const eventGridSecret = randomBytes(24).toString('hex');
// The rotation waits at its flip approval: what it reaches is all this test looks at.
const POLICY = stackAutoPolicy({ flipApproval: true });
const PATH = '/v1/expiry-events/azure-key-vault';
const expiresAt = new Date(Date.now() + 10 * 86_400_000);
expiresAt.setUTCMilliseconds(0);

let stack: RotationStack;
let version = '';
const workflowId = () => `rekey:${expiring.environment}:${expiring.name}`;
const scheduleId = () => `rekey-expiry:${expiring.environment}:${expiring.name}`;
const vaultUrl = () => process.env.AZURE_KEYVAULT_URL!.replace(/\/+$/, '');

const data = (name = expiring.name) => ({
  Id: `${vaultUrl()}/secrets/${name}/${version}`,
  VaultName: new URL(vaultUrl()).hostname.split('.')[0],
  ObjectType: 'Secret',
  ObjectName: name,
  Version: version,
  NBF: null,
  EXP: Math.floor(expiresAt.getTime() / 1000),
});
const eventGridEvent = (eventType: string, d: unknown) => ({
  id: randomUUID(),
  topic: '/subscriptions/0000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv',
  subject: expiring.name,
  eventType,
  eventTime: new Date().toISOString(),
  data: d,
  dataVersion: '1',
  metadataVersion: '1',
});
const deliver = (body: unknown, headers: Record<string, string> = {}) =>
  stack.call('POST', PATH, null, JSON.stringify(body), {
    'content-type': 'application/json',
    'aeg-event-type': 'Notification',
    'x-rekey-event-grid-secret': eventGridSecret,
    ...headers,
  });
const rotationExists = () => workflowExists(stack.client, workflowId());

const describeStack = rotationStackUnavailableReason() === undefined ? describe : describe.skip;

describeStack('Key Vault expiry events start rotations', () => {
  beforeAll(async () => {
    stack = await startRotationStack([expiring], {
      registryFields: () => ({
        owner: 'platform-ai',
        rotation_policy: POLICY,
        expiry: { lead_days: 14, check_every_hours: 24 },
      }),
      apiDeps: { expiryEvents: { eventGridSecret } },
    });
    // The current version expires in 10 days, as its owner set it in Key Vault.
    const kv = createSecretClient(vaultUrl(), { emulator: true });
    const current = await kv.getSecret(expiring.name);
    version = current.properties.version!;
    await kv.updateSecretProperties(expiring.name, version, { expiresOn: expiresAt });
    const sync = await stack.call('POST', '/v1/schedules/sync', 'carol');
    expect(sync.statusCode).toBe(200);
    expect(sync.json<ScheduleSyncReport>().created).toContain(scheduleId());
  });

  afterAll(async () => {
    await stack?.client.schedule
      .getHandle(scheduleId())
      .delete()
      .catch(() => undefined);
    await stack?.close();
  });

  it('answers both validation handshakes', async () => {
    const code = randomUUID();
    const validation = (headers: Record<string, string>) =>
      stack.app.inject({
        method: 'POST',
        url: PATH,
        headers: {
          'content-type': 'application/json',
          'aeg-event-type': 'SubscriptionValidation',
          ...headers,
        },
        payload: JSON.stringify([
          eventGridEvent('Microsoft.EventGrid.SubscriptionValidationEvent', {
            validationCode: code,
            validationUrl: 'https://rp-eastus2.eventgrid.azure.net/validate?id=x',
          }),
        ]),
      });
    // A wrong secret is refused even on the handshake; none at all is answered (it starts nothing).
    expect((await validation({ 'x-rekey-event-grid-secret': 'wrong' })).statusCode).toBe(401);
    const res = await validation({});
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ validationResponse: code });

    const options = await stack.app.inject({
      method: 'OPTIONS',
      url: PATH,
      headers: { 'webhook-request-origin': 'eventgrid.azure.net' },
    });
    expect(options.statusCode).toBe(200);
    expect(options.headers['webhook-allowed-origin']).toBe('eventgrid.azure.net');
    const noOrigin = await stack.app.inject({ method: 'OPTIONS', url: PATH });
    expect(noOrigin.statusCode).toBe(400);
    expect(noOrigin.headers['content-type']).toMatch(/application\/problem\+json/);
  });

  it('refuses a delivery without the subscription secret, and starts nothing', async () => {
    const event = [eventGridEvent('Microsoft.KeyVault.SecretNearExpiry', data())];
    for (const secret of ['', 'wrong', `${eventGridSecret}x`]) {
      const res = await deliver(event, { 'x-rekey-event-grid-secret': secret });
      expect(res.statusCode).toBe(401);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    }
    const malformed = await deliver([eventGridEvent('Microsoft.KeyVault.SecretNearExpiry', { Id: 7 })]);
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json<{ detail: string }>().detail).toMatch(/data/);
    expect(await rotationExists()).toBe(false);
  });

  it('calls an event for a secret it does not manage not ours, and ignores other event types', async () => {
    const res = await deliver([
      eventGridEvent('Microsoft.KeyVault.SecretNearExpiry', data(`someone-else-${run}`)),
      eventGridEvent('Microsoft.KeyVault.SecretNewVersionCreated', data()),
    ]);
    expect(res.statusCode).toBe(200);
    expect(res.json<{ events: { outcome: string }[] }>().events.map((e) => e.outcome)).toEqual([
      'ignored',
      'not-ours',
    ]);
    expect(await rotationExists()).toBe(false);
  });

  it('starts the rotation under the expiry ticket on a SecretNearExpiry event, and joins it on the next', async () => {
    const res = await deliver([eventGridEvent('Microsoft.KeyVault.SecretNearExpiry', data())]);
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({
      events: [
        expect.objectContaining({
          type: 'Microsoft.KeyVault.SecretNearExpiry',
          outcome: 'expiry-check-started',
          credential: { environment: expiring.environment, name: expiring.name },
          scheduleId: scheduleId(),
          expiresAt: expiresAt.toISOString(),
        }),
      ],
    });
    const ticket = expiryTicketId(expiresAt);
    await waitFor('the expiry rotation to start', rotationExists, 120_000);
    const rotationId = `${expiring.environment}:${expiring.name}:${ticket}`;
    const status = await stack.untilPhase(rotationId, ['AWAITING_FLIP_APPROVAL'], {
      timeoutMs: 3 * 60_000,
      intervalMs: 1000,
      expectOk: true,
    });
    expect(status.phase).toBe('AWAITING_FLIP_APPROVAL');
    const d = await stack.client.workflow.getHandle(workflowId()).describe();
    expect(d.typedSearchAttributes.get(ChangeTicketKey)).toBe(ticket);

    // The same expiry again, now as a CloudEvent: the check joins the rotation, no second one starts.
    const cloud = await stack.call(
      'POST',
      PATH,
      null,
      JSON.stringify({
        specversion: '1.0',
        id: randomUUID(),
        source: '/subscriptions/0000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv',
        subject: expiring.name,
        type: 'Microsoft.KeyVault.SecretNearExpiry',
        time: new Date().toISOString(),
        data: data(),
      }),
      { 'content-type': 'application/cloudevents+json', 'x-rekey-event-grid-secret': eventGridSecret },
    );
    expect([200, 202]).toContain(cloud.statusCode);
    const [answer] = cloud.json<{ events: { outcome: string }[] }>().events;
    expect(['expiry-check-started', 'expiry-check-running']).toContain(answer!.outcome);
    const schedule = (
      await stack.call('GET', `/v1/schedules/e2e/${expiring.name}?kind=expiry`, 'dave')
    ).json<ScheduleView>();
    expect(schedule.recentActions.length).toBeGreaterThanOrEqual(1);
    const runs: string[] = [];
    for await (const w of stack.client.workflow.list({ query: `WorkflowId = '${workflowId()}'` }))
      runs.push(w.runId);
    expect(runs).toHaveLength(1);
    await stack.assertNoKeyLeaks([expiring]);
  });
});
