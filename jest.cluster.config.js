// `make test-cluster`: the suite against a real Temporal cluster (test/cluster/), apart from `make test`'s
// projects (jest.config.js), whose transform and setup it shares. Global setup brings the cluster up.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS config, as jest.config.js is
const base = require('./jest.config');

const [unit] = base.projects;

const { displayName: _displayName, testMatch: _testMatch, ...common } = unit;

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    {
      ...common,
      displayName: 'cluster',
      testMatch: ['<rootDir>/test/cluster/**/*.test.ts'],
      globalSetup: '<rootDir>/test/cluster/global-setup.ts',
      globalTeardown: '<rootDir>/test/cluster/global-teardown.ts',
    },
  ],
  // One file, its tests in order: they share the cluster and restart it.
  maxWorkers: 1,
  testTimeout: 5 * 60_000,
};
