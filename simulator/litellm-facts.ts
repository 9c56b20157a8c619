// LiteLLM behaviour the reference gateway follows as a real proxy (1.110, measured) answers: auth refusal
// bodies, teams that must exist, Enterprise-only /key/regenerate with a grace period, and the router's
// deployment cooldown after upstream failures. Where deployments differ, a setting (LiteLlmFacts) says so.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { bearer, liteLlmError } from './errors';
import { durationMs } from './key-scope-fields';
import { hashKey, type GatewayState, type KeyRefusal, type Team, type VirtualKey } from './state';

export interface LiteLlmFacts {
  /** `must-exist` (LiteLLM): a key's `team_id` must name a `/team/new` team; `any` accepts every id. */
  teams: 'must-exist' | 'any';
  /** `LITELLM_LICENSE` is set: /key/regenerate works (it is an Enterprise feature). */
  licensed: boolean;
  /** Routes the upstream lacks (e.g. `/v1/responses`): its 404 is a deployment failure. */
  upstreamMissingRoutes: string[];
  /** `router_settings.cooldown_time` in ms: how long the only deployment cools down; 0 never. */
  cooldownMs: number;
  /**
   * `router_settings.allowed_fails`: upstream failures per minute tolerated before the cooldown. 0 (as
   * measured against a proxy with one deployment: its first 404 cooled it down).
   */
  allowedFails: number;
  /** `require_auth_for_metrics_endpoint` (on in 1.110): /metrics answers only the master key as bearer. */
  metricsAuth: boolean;
  /**
   * `litellm_settings.enable_end_user_cost_tracking_prometheus_only`: off, every series' `end_user` is
   * the literal "None", so Prometheus cannot tell consumers apart.
   */
  endUserMetrics: boolean;
}

export const LITELLM_FACTS: LiteLlmFacts = {
  teams: 'must-exist',
  licensed: false,
  upstreamMissingRoutes: [],
  cooldownMs: 5_000,
  allowedFails: 0,
  metricsAuth: true,
  endUserMetrics: false,
};

/** Upstream statuses LiteLLM's router counts towards a cooldown (_is_cooldown_required): other 4xx are the caller's. */
const coolsDown = (status: number) => status >= 500 || [401, 404, 408, 429].includes(status);

/** The 401 LiteLLM's user_api_key_auth answers for an unknown or deleted key, or a blocked one. */
export function sendKeyRefusal(reply: FastifyReply, refusal: KeyRefusal, value: string | undefined) {
  if (refusal === 'blocked') {
    return liteLlmError(
      reply,
      401,
      "Authentication Error, Key is blocked. Update via `/key/unblock` if you're an admin.",
      'auth_error',
    );
  }
  const shown = value ? `sk-...${value.slice(-4)}` : 'None';
  const hash = value ? hashKey(value) : 'None';
  return liteLlmError(
    reply,
    401,
    `Authentication Error, Invalid proxy server token passed. Received API Key = ${shown}, Key Hash (Token) =${hash}. Unable to find token in cache or \`LiteLLM_VerificationTokenTable\``,
    'token_not_found_in_db',
    'key',
  );
}

/** The team a key names when that team must exist and does not; undefined otherwise. */
export function missingTeam(state: GatewayState, teamId: string | null | undefined): string | undefined {
  if (!teamId || state.facts.teams === 'any' || state.teams.has(teamId)) return undefined;
  return teamId;
}

export const teamMissingMessage = (teamId: string) => `Team doesn't exist in db. Team=${teamId}`;

/** Seconds left of the deployment's cooldown, or 0 when it serves. */
export function cooldownLeftS(state: GatewayState): number {
  return Math.max(0, Math.ceil((state.cooldownUntil - state.now()) / 1000));
}

/** The router's answer while the only deployment cools down. */
export function sendNoDeployments(reply: FastifyReply, state: GatewayState, model: string) {
  return liteLlmError(
    reply,
    429,
    `No deployments available for selected model, Try again in ${cooldownLeftS(state)} seconds. Passed model=${model}. pre-call-checks=False, cooldown_list=['simulator-deployment']`,
    'None',
  );
}

/** Counts an upstream failure; the deployment cools down when LiteLLM's router would cool it. */
export function recordUpstreamFailure(state: GatewayState, status: number): void {
  const { cooldownMs, allowedFails } = state.facts;
  if (cooldownMs <= 0 || !coolsDown(status)) return;
  const now = state.now();
  state.upstreamFails = [...state.upstreamFails.filter((t) => t > now - 60_000), now];
  if (state.upstreamFails.length > allowedFails) {
    state.cooldownUntil = now + cooldownMs;
    state.upstreamFails = [];
  }
}

function teamRow(team: Team) {
  return { ...team, spend: 0, blocked: false, metadata: {}, members_with_roles: [] };
}

/** `/team/new`, `/team/info`, `/team/list` and `/key/{key}/regenerate`, master key only. */
export function registerLiteLlmFacts(
  app: FastifyInstance,
  state: GatewayState,
  masterKey: string,
  keyRow: (k: VirtualKey) => Record<string, unknown>,
): void {
  const master = (authorization: string | undefined) => bearer(authorization) === masterKey;
  const denied = (reply: FastifyReply) =>
    liteLlmError(reply, 401, 'Authentication Error, only the master key can manage teams', 'auth_error');

  app.post('/team/new', async (req, reply) => {
    if (!master(req.headers.authorization)) return denied(reply);
    const body = (req.body ?? {}) as {
      team_id?: string;
      team_alias?: string;
      models?: string[];
      max_budget?: number;
    };
    const teamId = body.team_id ?? `team-${hashKey(`${state.now()}:${state.teams.size}`).slice(0, 12)}`;
    if (state.teams.has(teamId)) {
      return liteLlmError(
        reply,
        400,
        `Team id = ${teamId} already exists. Please use a different team id.`,
        'bad_request_error',
        'team_id',
      );
    }
    const team: Team = {
      team_id: teamId,
      team_alias: body.team_alias ?? null,
      models: body.models ?? [],
      max_budget: body.max_budget ?? null,
      created_at: new Date(state.now()).toISOString(),
    };
    state.teams.set(teamId, team);
    return teamRow(team);
  });

  app.get('/team/info', async (req, reply) => {
    if (!master(req.headers.authorization)) return denied(reply);
    const teamId = (req.query as { team_id?: string }).team_id;
    if (!teamId) return liteLlmError(reply, 422, 'team_id is required', 'validation_error', 'team_id');
    const team = state.teams.get(teamId);
    if (!team)
      return liteLlmError(
        reply,
        404,
        `Team not found, passed team_id=${teamId}`,
        'not_found_error',
        'team_id',
      );
    const keys = [...state.keys.values()].filter((k) => !k.deleted && k.teamId === teamId).map(keyRow);
    return { team_id: teamId, team_info: teamRow(team), keys, team_memberships: [] };
  });

  app.get('/team/list', async (req, reply) => {
    if (!master(req.headers.authorization)) return denied(reply);
    return [...state.teams.values()].map(teamRow);
  });

  const regenerate = async (asked: string, body: { grace_period?: string | null }, reply: FastifyReply) => {
    if (!state.facts.licensed) {
      // LiteLLM raises this before it even looks the key up, so the old key keeps working.
      return liteLlmError(
        reply,
        500,
        'Regenerating Virtual Keys is an Enterprise feature, You must be a LiteLLM Enterprise user to use this feature. If you have a license please set `LITELLM_LICENSE` in your env.',
        'internal_server_error',
      );
    }
    if (!asked) return liteLlmError(reply, 400, "{'error': 'No key passed in.'}", 'bad_request_error');
    const old = state.find(asked);
    if (!old || old.flavour !== 'litellm')
      return liteLlmError(
        reply,
        404,
        `{'error': 'Key ${asked.slice(0, 6)}... not found.'}`,
        'not_found_error',
      );
    const graceMs = body.grace_period ? durationMs(body.grace_period) : 0;
    if (graceMs === undefined) {
      return liteLlmError(
        reply,
        400,
        `Invalid grace_period: ${body.grace_period}`,
        'bad_request_error',
        'grace_period',
      );
    }
    const { token: _t, value: _v, flavour: _f, ...fields } = old;
    const fresh = state.createKey('litellm', { ...fields, rotationCount: (old.rotationCount ?? 0) + 1 });
    // The old value keeps answering for the grace period (none: revoked at once).
    old.deleted = true;
    old.regenerated = true;
    old.revokedAt = state.now() + graceMs;
    return { ...keyRow(fresh), key: fresh.value, token_id: fresh.token };
  };

  app.post('/key/:key/regenerate', async (req, reply) => {
    if (!master(req.headers.authorization)) return denied(reply);
    const body = (req.body ?? {}) as { key?: string; grace_period?: string | null };
    return regenerate(body.key ?? (req.params as { key: string }).key, body, reply);
  });
  app.post('/key/regenerate', async (req, reply) => {
    if (!master(req.headers.authorization)) return denied(reply);
    const body = (req.body ?? {}) as { key?: string; grace_period?: string | null };
    return regenerate(body.key ?? '', body, reply);
  });
}

/**
 * The settings from the environment of `npm run simulator`: REKEY_SIMULATOR_TEAMS (`must-exist`|`any`),
 * REKEY_SIMULATOR_LITELLM_LICENSE (`1`), REKEY_SIMULATOR_UPSTREAM_MISSING_ROUTES (comma list),
 * REKEY_SIMULATOR_COOLDOWN_MS, REKEY_SIMULATOR_ALLOWED_FAILS.
 */
export function liteLlmFactsFromEnv(env: NodeJS.ProcessEnv): Partial<LiteLlmFacts> {
  const facts: Partial<LiteLlmFacts> = {};
  const teams = env.REKEY_SIMULATOR_TEAMS;
  if (teams !== undefined) {
    if (teams !== 'must-exist' && teams !== 'any')
      throw new Error(`REKEY_SIMULATOR_TEAMS: expected must-exist or any, got ${teams}`);
    facts.teams = teams;
  }
  if (env.REKEY_SIMULATOR_LITELLM_LICENSE !== undefined)
    facts.licensed = ['1', 'true'].includes(env.REKEY_SIMULATOR_LITELLM_LICENSE);
  if (env.REKEY_SIMULATOR_UPSTREAM_MISSING_ROUTES)
    facts.upstreamMissingRoutes = env.REKEY_SIMULATOR_UPSTREAM_MISSING_ROUTES.split(',').map((r) => r.trim());
  for (const [name, field] of [
    ['REKEY_SIMULATOR_METRICS_AUTH', 'metricsAuth'],
    ['REKEY_SIMULATOR_END_USER_METRICS', 'endUserMetrics'],
  ] as const) {
    if (env[name] !== undefined) facts[field] = ['1', 'true'].includes(env[name]);
  }
  for (const [name, field] of [
    ['REKEY_SIMULATOR_COOLDOWN_MS', 'cooldownMs'],
    ['REKEY_SIMULATOR_ALLOWED_FAILS', 'allowedFails'],
  ] as const) {
    const raw = env[name];
    if (raw === undefined) continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: expected a whole number ≥ 0, got ${raw}`);
    facts[field] = n;
  }
  return facts;
}
