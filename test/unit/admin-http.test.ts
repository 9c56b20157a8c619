import { redactKeys } from '../../activities/gateway/admin-http';

describe('admin error messages', () => {
  it('never carry a key value into an error (and so into workflow history)', () => {
    const body =
      '{"error":"Key with value sk-kdEXbIqZRwEeEiHwdg7sFA exists; also sk-or-v1-d3558566a246d57584c29dd02393d4a5"}';
    const redacted = redactKeys(body);
    expect(redacted).not.toContain('kdEXbIqZRwEeEiHwdg7sFA');
    expect(redacted).not.toContain('d3558566a246d57584c29dd02393d4a5');
    expect(redacted).toContain('sk-[redacted]');
  });
});
