import { parseRegistry } from '../../config/registry';

// gateway.replicas / gateway.replicas_dns: where a gateway runs several replicas, rekey proves keys on each.
const entry = (gatewayExtra: string) => `credentials:
  - name: k
    environment: production
    secret:
      backend: azure-key-vault
      vault_url: https://kv.vault.azure.net
      name: k
    gateway:
      base_url: http://litellm.ai.svc:4000/v1
      admin_adapter: litellm
      admin_base_url: http://litellm.ai.svc:4000
      admin_key_secret: litellm-master
${gatewayExtra}
    telemetry:
      adapter: litellm-spend-logs
    consumers:
      - app: a
        environment: production
        reload: dynamic
`;
const lookup = (gatewayExtra: string) =>
  parseRegistry(entry(gatewayExtra), 'test registry').lookup('k', 'production');

describe('gateway replicas in the registry', () => {
  it('are absent from the credential without them, so nothing changes', () => {
    const c = lookup('');
    expect(c).not.toHaveProperty('gatewayReplicas');
    expect(c).not.toHaveProperty('gatewayReplicasDns');
  });

  it('carry the listed replica URLs or the DNS name into the credential', () => {
    expect(
      lookup(`      replicas:
        - http://10.0.0.1:4000/v1
        - http://10.0.0.2:4000/v1`)?.gatewayReplicas,
    ).toEqual(['http://10.0.0.1:4000/v1', 'http://10.0.0.2:4000/v1']);
    expect(lookup('      replicas_dns: litellm-headless.ai.svc.cluster.local')?.gatewayReplicasDns).toBe(
      'litellm-headless.ai.svc.cluster.local',
    );
  });

  it('refuse both at once, a URL that is not one, an empty list and a name that is not a DNS name', () => {
    expect(() =>
      lookup(`      replicas: [http://10.0.0.1:4000/v1]
      replicas_dns: litellm-headless`),
    ).toThrow(/gateway\.replicas_dns: name the replicas either as a list .* or by DNS .*, not both/);
    expect(() => lookup('      replicas: [not a url]')).toThrow(/gateway\.replicas\.0/);
    expect(() => lookup('      replicas: []')).toThrow(/gateway\.replicas/);
    expect(() => lookup('      replicas_dns: "http://x/"')).toThrow(/gateway\.replicas_dns: a DNS name/);
  });
});
