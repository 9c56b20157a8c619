import { ConfigError, loadSettings } from '../../config';

describe('settings from the environment', () => {
  it('uses the documented defaults when nothing is set', () => {
    const s = loadSettings({});
    expect(s.TEMPORAL_ADDRESS).toBe('127.0.0.1:7233');
    expect(s.TEMPORAL_NAMESPACE).toBe('default');
    expect(s.REKEY_TASK_QUEUE).toBe('rekey-rotations');
    expect(s.REKEY_API_PORT).toBe(8080);
  });

  it('reads and coerces values that are set', () => {
    const s = loadSettings({ TEMPORAL_ADDRESS: 'temporal.internal:7233', REKEY_API_PORT: '9000' });
    expect(s.TEMPORAL_ADDRESS).toBe('temporal.internal:7233');
    expect(s.REKEY_API_PORT).toBe(9000);
  });

  it('treats an empty variable as unset', () => {
    expect(loadSettings({ REKEY_API_PORT: '' }).REKEY_API_PORT).toBe(8080);
  });

  it('stops with one line naming the variable and the bad value', () => {
    expect(() => loadSettings({ REKEY_API_PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadSettings({ REKEY_API_PORT: 'eighty' })).toThrow(/^REKEY_API_PORT: .*\(got "eighty"\)$/);
    expect(() => loadSettings({ TEMPORAL_ADDRESS: 'no-port' })).toThrow(
      /^TEMPORAL_ADDRESS: expected host:port/,
    );
    expect(() => loadSettings({ REKEY_LOG_LEVEL: 'loud' })).toThrow(/^REKEY_LOG_LEVEL: /);
  });
});
