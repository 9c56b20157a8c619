import { liteLlmFactsFromEnv } from '../../simulator/litellm-facts';

// `npm run simulator` reads the reference gateway's LiteLLM settings from its environment.
describe('the simulator LiteLLM settings from the environment', () => {
  it('reads each setting, and leaves out what is not set', () => {
    expect(liteLlmFactsFromEnv({})).toEqual({});
    expect(
      liteLlmFactsFromEnv({
        REKEY_SIMULATOR_TEAMS: 'any',
        REKEY_SIMULATOR_LITELLM_LICENSE: '1',
        REKEY_SIMULATOR_UPSTREAM_MISSING_ROUTES: '/v1/responses, /v1/embeddings',
        REKEY_SIMULATOR_COOLDOWN_MS: '0',
        REKEY_SIMULATOR_ALLOWED_FAILS: '2',
        REKEY_SIMULATOR_METRICS_AUTH: 'false',
        REKEY_SIMULATOR_END_USER_METRICS: 'true',
      }),
    ).toEqual({
      teams: 'any',
      licensed: true,
      upstreamMissingRoutes: ['/v1/responses', '/v1/embeddings'],
      cooldownMs: 0,
      allowedFails: 2,
      metricsAuth: false,
      endUserMetrics: true,
    });
  });

  it('refuses values it cannot use, naming the variable', () => {
    expect(() => liteLlmFactsFromEnv({ REKEY_SIMULATOR_TEAMS: 'some' })).toThrow(/REKEY_SIMULATOR_TEAMS/);
    expect(() => liteLlmFactsFromEnv({ REKEY_SIMULATOR_COOLDOWN_MS: '-5' })).toThrow(
      /REKEY_SIMULATOR_COOLDOWN_MS/,
    );
  });
});
