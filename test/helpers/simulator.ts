import { randomBytes } from 'node:crypto';
import { buildSimulator, type Simulator, type SimulatorOptions } from '../../simulator/app';

/**
 * A reference gateway on a free loopback port, with fresh admin keys and a clock that follows real time
 * and that tests can move forward (`gw.clock.now += ms`). A clock frozen at start stamped every spend-log
 * row with the simulator's start time, so a window opened a second before the traffic missed all of it
 * whenever set-up took longer than that (CI at stop 23).
 */
export interface RunningSimulator {
  sim: Simulator;
  base: string;
  masterKey: string;
  provisioningKey: string;
  clock: { now: number };
  admin(
    method: string,
    path: string,
    body?: unknown,
    key?: string,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  /** Creates a LiteLLM team unless it exists (LiteLLM refuses keys whose team does not exist). */
  ensureTeam(teamId: string): Promise<void>;
  /** Generates a LiteLLM-style key (its team created first); returns its value and token. */
  newKey(fields?: Record<string, unknown>): Promise<{ key: string; token: string }>;
  close(): Promise<void>;
}

export async function startSimulator(
  opts: Pick<SimulatorOptions, 'revocationDelayMs' | 'litellm' | 'spendLog'> = {},
): Promise<RunningSimulator> {
  const masterKey = `sk-master-${randomBytes(8).toString('hex')}`;
  const provisioningKey = `sk-or-prov-${randomBytes(8).toString('hex')}`;
  let offset = 0;
  const clock = {
    get now() {
      return Date.now() + offset;
    },
    set now(value: number) {
      offset = value - Date.now();
    },
  };
  // End users in the metrics as the test stack's deployments have them; tests of the default say so.
  const sim = buildSimulator({
    masterKey,
    provisioningKey,
    now: () => clock.now,
    ...opts,
    litellm: { endUserMetrics: true, ...opts.litellm },
  });
  const base = await sim.app.listen({ port: 0, host: '127.0.0.1' });
  const admin: RunningSimulator['admin'] = async (method, path, body, key = masterKey) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return {
      status: res.status,
      body: (res.status === 204 ? {} : await res.json()) as Record<string, unknown>,
    };
  };
  const ensureTeam = async (teamId: string) => {
    if (sim.state.teams.has(teamId)) return;
    const res = await admin('POST', '/team/new', { team_id: teamId, team_alias: teamId });
    if (res.status !== 200) throw new Error(`team/new answered ${res.status}`);
  };
  return {
    sim,
    base,
    masterKey,
    provisioningKey,
    clock,
    admin,
    ensureTeam,
    async newKey(fields = {}) {
      const body = { models: ['gpt-4o-mini', 'text-embedding-3-small'], team_id: 'platform-ai', ...fields };
      if (typeof body.team_id === 'string') await ensureTeam(body.team_id);
      const res = await admin('POST', '/key/generate', body);
      if (res.status !== 200) throw new Error(`key/generate answered ${res.status}`);
      return res.body as { key: string; token: string };
    },
    close: () => sim.app.close(),
  };
}
