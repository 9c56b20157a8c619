import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, freePort } from '../../scripts/local-stack';

// `npm run simulator`: the reference gateway as its own process, as the demo and staging drills run it.
describe('the standalone reference gateway', () => {
  it('listens on the port from the environment and keeps generated admin keys out of its output', async () => {
    const port = await freePort();
    const runDir = mkdtempSync(path.join(os.tmpdir(), 'rekey-sim-'));
    const child = spawn(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['simulator/main.ts'], {
      cwd: ROOT,
      env: { ...process.env, REKEY_SIMULATOR_PORT: String(port), REKEY_RUN_DIR: runDir },
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    try {
      let healthy = false;
      for (let i = 0; i < 100 && !healthy; i++) {
        healthy = await fetch(`http://127.0.0.1:${port}/health`).then(
          (r) => r.ok,
          () => false,
        );
        if (!healthy) await new Promise((r) => setTimeout(r, 100));
      }
      expect(healthy).toBe(true);
      const keysFile = path.join(runDir, 'simulator', 'admin-keys.json');
      const keys = JSON.parse(readFileSync(keysFile, 'utf8')) as {
        masterKey: string;
        provisioningKey: string;
      };
      expect(statSync(keysFile).mode & 0o777).toBe(0o600);
      const generate = await fetch(`http://127.0.0.1:${port}/key/generate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${keys.masterKey}`, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(generate.status).toBe(200);
      expect(output).toContain(`on http://127.0.0.1:${port}`);
      expect(output).not.toContain(keys.masterKey);
      expect(output).not.toContain(keys.provisioningKey);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(runDir, { recursive: true, force: true });
    }
  });
});
