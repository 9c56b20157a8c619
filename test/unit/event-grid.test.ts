import { credentialOfEvent } from '../../api/routes/expiry-events';
import { MalformedEvent, parseDelivery, secretMatches } from '../../api/expiry-events/event-grid';
import { parseRegistry } from '../../config/registry';

// Event Grid deliveries as Azure sends them: the Event Grid schema (an array, PascalCase Key Vault
// data, EXP in epoch seconds) and CloudEvents 1.0 (one event or a batch), the validation event, and the
// registry lookup from vault and secret name to a credential.
const kvData = {
  Id: 'https://contoso-kv.vault.azure.net/secrets/router-key/0f2b1c',
  VaultName: 'contoso-kv',
  ObjectType: 'Secret',
  ObjectName: 'router-key',
  Version: '0f2b1c',
  NBF: null,
  EXP: 1_797_000_000,
};

describe('parseDelivery', () => {
  it('reads a SecretNearExpiry event in the Event Grid schema', () => {
    const parsed = parseDelivery(
      [
        {
          id: 'e1',
          topic: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/contoso-kv',
          subject: 'router-key',
          eventType: 'Microsoft.KeyVault.SecretNearExpiry',
          eventTime: '2026-12-01T00:00:00Z',
          data: kvData,
          dataVersion: '1',
          metadataVersion: '1',
        },
      ],
      'application/json',
    );
    expect(parsed).toEqual({
      kind: 'events',
      ignored: [],
      expiry: [
        {
          schema: 'eventgrid',
          id: 'e1',
          type: 'Microsoft.KeyVault.SecretNearExpiry',
          vaultName: 'contoso-kv',
          vaultHost: 'contoso-kv.vault.azure.net',
          secretName: 'router-key',
          version: '0f2b1c',
          expiresAt: new Date(1_797_000_000_000).toISOString(),
        },
      ],
    });
  });

  it('reads CloudEvents, single and batched, and sets aside other event types', () => {
    const ce = (id: string, type: string) => ({
      specversion: '1.0',
      id,
      source: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/contoso-kv',
      type,
      subject: 'router-key',
      time: '2026-12-01T00:00:00Z',
      data: kvData,
    });
    const one = parseDelivery(ce('c1', 'Microsoft.KeyVault.SecretExpired'), 'application/cloudevents+json');
    expect(one).toMatchObject({ kind: 'events', expiry: [{ schema: 'cloudevents', id: 'c1' }] });
    const batch = parseDelivery(
      [
        ce('c2', 'Microsoft.KeyVault.SecretNearExpiry'),
        ce('c3', 'Microsoft.KeyVault.SecretNewVersionCreated'),
      ],
      'application/cloudevents-batch+json',
    );
    expect(batch).toMatchObject({
      kind: 'events',
      expiry: [{ id: 'c2' }],
      ignored: [{ id: 'c3', type: 'Microsoft.KeyVault.SecretNewVersionCreated' }],
    });
  });

  it('answers the subscription validation event with its code', () => {
    const parsed = parseDelivery(
      [
        {
          id: 'v1',
          topic: 't',
          subject: '',
          eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
          eventTime: '2026-12-01T00:00:00Z',
          data: {
            validationCode: '512d38b6-c7b8-40c8-89fe-f46f9e9622b6',
            validationUrl: 'https://x/validate',
          },
        },
      ],
      'application/json',
    );
    expect(parsed).toEqual({ kind: 'validation', validationCode: '512d38b6-c7b8-40c8-89fe-f46f9e9622b6' });
  });

  it('refuses malformed deliveries saying what is wrong', () => {
    const bad =
      (body: unknown, type = 'application/json') =>
      () =>
        parseDelivery(body, type);
    expect(bad([])).toThrow(new MalformedEvent('the delivery holds no event'));
    expect(bad([{ id: 'x' }])).toThrow(/an Event Grid event: eventType/);
    expect(
      bad([{ id: 'x', eventType: 'Microsoft.KeyVault.SecretNearExpiry', data: { VaultName: 'kv' } }]),
    ).toThrow(/event x \(Microsoft.KeyVault.SecretNearExpiry\) data: ObjectName/);
    expect(bad({ specversion: '0.3', id: 'x' }, 'application/cloudevents+json')).toThrow(
      /CloudEvents event: specversion/,
    );
    expect(
      bad([
        { id: 'x', eventType: 'Microsoft.KeyVault.SecretNearExpiry', data: { ...kvData, Id: 'not a url' } },
      ]),
    ).toThrow(/data.Id is not a URL/);
    expect(
      bad([{ id: 'v', eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent', data: {} }]),
    ).toThrow(/validation event: validationCode/);
  });
});

describe('secretMatches', () => {
  it('matches only the exact secret', () => {
    expect(secretMatches('s3cret-value', 's3cret-value')).toBe(true);
    expect(secretMatches('s3cret-value', 's3cret-valu')).toBe(false);
    expect(secretMatches('s3cret-value', '')).toBe(false);
    expect(secretMatches('s3cret-value', undefined)).toBe(false);
  });
});

describe('credentialOfEvent', () => {
  const registry = parseRegistry(
    `
credentials:
  - name: router
    environment: production
    secret: { backend: azure-key-vault, vault_url: https://Contoso-KV.vault.azure.net/, name: router-key }
    gateway: { base_url: https://gw.example.com/v1, admin_adapter: litellm, admin_base_url: https://gw.example.com, admin_key_secret: admin }
    telemetry: { adapter: prometheus, url: http://prometheus:9090 }
    consumers: [{ app: chat, environment: production, reload: dynamic }]
  - name: router
    environment: staging
    secret: { backend: azure-key-vault, vault_url: https://staging-kv.vault.azure.net, name: router-key }
    gateway: { base_url: https://gw.example.com/v1, admin_adapter: litellm, admin_base_url: https://gw.example.com, admin_key_secret: admin }
    telemetry: { adapter: prometheus, url: http://prometheus:9090 }
    consumers: [{ app: chat, environment: staging, reload: dynamic }]
`,
    'test registry',
  );

  it('finds the credential by vault host and secret name, or by vault name without an object id', () => {
    expect(
      credentialOfEvent(registry, {
        vaultName: 'contoso-kv',
        vaultHost: 'contoso-kv.vault.azure.net',
        secretName: 'router-key',
      }),
    ).toEqual({ environment: 'production', name: 'router' });
    expect(credentialOfEvent(registry, { vaultName: 'staging-kv', secretName: 'router-key' })).toEqual({
      environment: 'staging',
      name: 'router',
    });
  });

  it('finds none for another vault, a pending secret or another name', () => {
    expect(credentialOfEvent(registry, { vaultName: 'other-kv', secretName: 'router-key' })).toBeUndefined();
    expect(
      credentialOfEvent(registry, { vaultName: 'contoso-kv', secretName: 'router-key-pending' }),
    ).toBeUndefined();
    expect(
      credentialOfEvent(registry, {
        vaultName: 'contoso-kv',
        vaultHost: 'contoso-kv.vaultcore.azure.net',
        secretName: 'router-key',
      }),
    ).toBeUndefined();
  });
});
