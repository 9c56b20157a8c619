// Fault injection for drills and tests, authenticated with the master key: PUT replaces a key's faults,
// DELETE clears them. Keys are addressed by value or SHA-256 hash.
import type { FastifyInstance } from 'fastify';
import { bearer, liteLlmError } from './errors';
import type { Faults, GatewayState } from './state';

export function registerControl(app: FastifyInstance, state: GatewayState, masterKey: string): void {
  app.put('/sim/faults/:key', async (req, reply) => {
    if (bearer(req.headers.authorization) !== masterKey)
      return liteLlmError(reply, 401, 'master key required', 'auth_error');
    const key =
      state.keys.get((req.params as { key: string }).key) ?? state.find((req.params as { key: string }).key);
    if (!key) return liteLlmError(reply, 404, 'Key not found', 'not_found_error', 'key');
    const faults = (req.body ?? {}) as Faults;
    state.faults.set(key.token, faults);
    return { hashed_api_key: key.token, faults };
  });

  app.delete('/sim/faults/:key', async (req, reply) => {
    if (bearer(req.headers.authorization) !== masterKey)
      return liteLlmError(reply, 401, 'master key required', 'auth_error');
    const key =
      state.keys.get((req.params as { key: string }).key) ?? state.find((req.params as { key: string }).key);
    if (key) state.faults.delete(key.token);
    return reply.code(204).send();
  });
}
