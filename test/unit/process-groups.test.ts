import { spawn } from 'node:child_process';
import { alive } from '../../scripts/demo/processes';
import { processStartTime, stopProcessGroup } from '../../scripts/local-stack';

const groupAlive = (pid: number) => alive(-pid);

describe('stopping a recorded process group', () => {
  const startSleeper = () => {
    const child = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
    child.unref();
    return child.pid!;
  };

  it('reads when a process started, and nothing for a pid no process has', () => {
    expect(processStartTime(process.pid)).toMatch(/^\d+$/);
    expect(processStartTime(process.pid)).toBe(processStartTime(process.pid));
    // Above pid_max (at most 2^22): never a process.
    expect(processStartTime(4_194_305)).toBeUndefined();
  });

  it('leaves alone a group whose leader started at another time (its pid used again)', async () => {
    const pid = startSleeper();
    try {
      await stopProcessGroup(pid, 1000, '1');
      expect(groupAlive(pid)).toBe(true);
    } finally {
      process.kill(-pid, 'SIGKILL');
    }
  });

  it('stops the group whose leader it recorded', async () => {
    const pid = startSleeper();
    const started = processStartTime(pid);
    expect(started).toBeDefined();
    await stopProcessGroup(pid, 1000, started);
    await new Promise((r) => setTimeout(r, 100));
    expect(groupAlive(pid)).toBe(false);
  });
});
