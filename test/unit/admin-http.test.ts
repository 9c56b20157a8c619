import { randomBytes } from 'node:crypto';
import { redactKeys } from '../../activities/gateway/admin-http';

describe('admin error messages', () => {
  it('never carry a key value into an error (and so into workflow history)', () => {
    // Keys in the two shapes gateways issue, made up per run.
    const litellm = `sk-${randomBytes(16).toString('base64url')}`;
    const openrouter = `sk-or-v1-${randomBytes(32).toString('hex')}`;
    const redacted = redactKeys(`{"error":"Key with value ${litellm} exists; also ${openrouter}"}`);
    expect(redacted).not.toContain(litellm.slice(3));
    expect(redacted).not.toContain(openrouter.slice(9));
    expect(redacted).toContain('sk-[redacted]');
  });
});
