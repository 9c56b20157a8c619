import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { tokenHash } from '../../api/auth';
import { authenticatorFor } from '../../api/server';
import { ConfigError, loadSettings } from '../../config';

describe('authentication settings', () => {
  it('trusts no proxy by default, and reads true, a hop count or a list of addresses and CIDRs', () => {
    expect(loadSettings({}).REKEY_API_TRUST_PROXY).toBe(false);
    expect(loadSettings({ REKEY_API_TRUST_PROXY: 'true' }).REKEY_API_TRUST_PROXY).toBe(true);
    expect(loadSettings({ REKEY_API_TRUST_PROXY: '2' }).REKEY_API_TRUST_PROXY).toBe(2);
    expect(
      loadSettings({ REKEY_API_TRUST_PROXY: '10.0.0.0/8, 192.0.2.1,fd00::/8,loopback' })
        .REKEY_API_TRUST_PROXY,
    ).toEqual(['10.0.0.0/8', '192.0.2.1', 'fd00::/8', 'loopback']);
    for (const bad of ['yes', '10.0.0.0/33', '10.0.0/8', 'proxy.internal']) {
      expect(() => loadSettings({ REKEY_API_TRUST_PROXY: bad })).toThrow(
        /^REKEY_API_TRUST_PROXY: expected false/,
      );
    }
  });

  it('reads a role map as value=role pairs or JSON, and names a role that does not exist', () => {
    expect(
      loadSettings({ REKEY_OIDC_ROLE_MAP: 'rekey-approvers=approver, rekey-ops=operator,rekey-ops=viewer' })
        .REKEY_OIDC_ROLE_MAP,
    ).toEqual({ 'rekey-approvers': ['approver'], 'rekey-ops': ['operator', 'viewer'] });
    expect(
      loadSettings({
        REKEY_OIDC_ROLE_MAP: '{"cn=rekey,ou=groups": ["approver", "viewer"], "ops": "operator"}',
      }).REKEY_OIDC_ROLE_MAP,
    ).toEqual({ 'cn=rekey,ou=groups': ['approver', 'viewer'], ops: ['operator'] });
    expect(() => loadSettings({ REKEY_OIDC_ROLE_MAP: 'admins=admin' })).toThrow(
      /^REKEY_OIDC_ROLE_MAP: expected claim-value=role with a role of requester, approver, operator, viewer/,
    );
    expect(() => loadSettings({ REKEY_OIDC_ROLE_MAP: 'approver' })).toThrow(/^REKEY_OIDC_ROLE_MAP: /);
    expect(() => loadSettings({ REKEY_OIDC_ROLE_MAP: '{not json' })).toThrow(/not a JSON object/);
  });

  it('allows only asymmetric JWS algorithms, and reads audiences as a list', () => {
    expect(loadSettings({}).REKEY_OIDC_ALGORITHMS).toEqual(['RS256', 'PS256', 'ES256', 'EdDSA']);
    expect(loadSettings({ REKEY_OIDC_ALGORITHMS: 'ES384, RS512' }).REKEY_OIDC_ALGORITHMS).toEqual([
      'ES384',
      'RS512',
    ]);
    for (const bad of ['none', 'HS256', 'RS256,HS512']) {
      expect(() => loadSettings({ REKEY_OIDC_ALGORITHMS: bad })).toThrow(
        /^REKEY_OIDC_ALGORITHMS: asymmetric/,
      );
    }
    expect(
      loadSettings({ REKEY_OIDC_AUDIENCE: 'https://rekey.example/api, rekey-cli' }).REKEY_OIDC_AUDIENCE,
    ).toEqual(['https://rekey.example/api', 'rekey-cli']);
    expect(loadSettings({}).REKEY_OIDC_PRINCIPAL_CLAIM).toBe('sub');
    expect(loadSettings({}).REKEY_OIDC_CLOCK_SKEW_SECONDS).toBe(30);
  });

  describe('the authenticator the server builds', () => {
    let dir: string;
    let file: string;
    beforeAll(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'rekey-auth-settings-'));
      file = path.join(dir, 'tokens.yaml');
      writeFileSync(
        file,
        `- sha256: ${tokenHash('rk_x')}\n  principal: ops@example.com\n  roles: [operator]\n`,
      );
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('takes only static tokens without an issuer, and needs an audience and a role map with one', () => {
      expect(authenticatorFor(loadSettings({ REKEY_API_TOKENS_FILE: file })).oidcIssuer).toBeUndefined();
      const withIssuer = { REKEY_API_TOKENS_FILE: file, REKEY_OIDC_ISSUER: 'https://idp.example.com' };
      expect(() => authenticatorFor(loadSettings(withIssuer))).toThrow(ConfigError);
      expect(() => authenticatorFor(loadSettings(withIssuer))).toThrow(/^REKEY_OIDC_AUDIENCE: required/);
      expect(() => authenticatorFor(loadSettings({ ...withIssuer, REKEY_OIDC_AUDIENCE: 'rekey' }))).toThrow(
        /^REKEY_OIDC_ROLE_MAP: required/,
      );
      const full = { ...withIssuer, REKEY_OIDC_AUDIENCE: 'rekey', REKEY_OIDC_ROLE_MAP: 'ops=operator' };
      expect(authenticatorFor(loadSettings(full)).oidcIssuer).toBe('https://idp.example.com');
    });
  });
});
