// Three projects so that unit, workflow (time-skipping) and integration (real servers) tests can run apart.
const transform = {
  '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2023' } }],
  // cookie 2 (behind fastify's inject), jose 6, oidc-provider 9 and @noble/curves 2 ship ESM only: compiled to CommonJS
  // for jest's module registry (Node itself loads them with require(esm)).
  '/node_modules/(cookie|jose|oidc-provider|@noble/curves|@noble/hashes)/.+\\.js$': [
    '@swc/jest',
    { jsc: { target: 'es2023' }, module: { type: 'commonjs' } },
  ],
};
const common = {
  testEnvironment: 'node',
  transform,
  transformIgnorePatterns: ['/node_modules/(?!(cookie|jose|oidc-provider|@noble/curves|@noble/hashes)/)'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  setupFiles: ['<rootDir>/test/helpers/quiet-runtime.ts'],
};

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'workflows',
      testMatch: ['<rootDir>/test/workflows/**/*.test.ts'],
      globalSetup: '<rootDir>/test/harness/workflows-global-setup.ts',
      globalTeardown: '<rootDir>/test/harness/workflows-global-teardown.ts',
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      setupFiles: [...common.setupFiles, '<rootDir>/test/helpers/trust-test-certs.ts'],
      globalSetup: '<rootDir>/test/harness/global-setup.ts',
      globalTeardown: '<rootDir>/test/harness/global-teardown.ts',
    },
  ],
  testTimeout: 120000,
};
