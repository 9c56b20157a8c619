// The layering rekey's code keeps, checked by `npm run check` (dependency-cruiser). Every layer imports
// downward into domain/ (zod schemas, ports, pure rules); nothing imports a layer above it; no loops.
//   domain      ← imports only domain (and zod, node:crypto)
//   workflows   → domain, and activities' *types* only (activities run outside the workflow sandbox)
//   activities  → domain, common (metrics)
//   config      → domain
//   api         → domain, common, and the workflow's client contract (messages, search attributes,
//                 start options) — except api/server.ts, a composition root like worker.ts
//   cli         → domain, workflows/messages
// Composition roots (worker.ts, api/server.ts) and scripts, tests, benches, the simulator wire anything.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import loop: split out the shared part into a module both import.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'domain-is-the-bottom',
      severity: 'error',
      comment: 'domain/ imports nothing of rekey but domain/.',
      from: { path: '^domain/' },
      to: {
        path: '^(activities|workflows|api|config|common|cli|scripts|simulator|test|bench)/|^worker\\.ts$',
      },
    },
    {
      name: 'workflows-import-domain-and-activity-types',
      severity: 'error',
      comment:
        'Workflow code runs in the deterministic sandbox: it may import domain/ and activity *types* only.',
      from: { path: '^workflows/' },
      to: {
        path: '^(api|config|common|cli|scripts|simulator|test|bench)/|^worker\\.ts$',
      },
    },
    {
      name: 'workflows-import-activities-as-types-only',
      severity: 'error',
      from: { path: '^workflows/' },
      to: { path: '^activities/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'workflows-not-node-domain',
      severity: 'error',
      comment: 'domain/fingerprint.ts hashes with node:crypto, which the workflow sandbox does not have.',
      from: { path: '^workflows/' },
      to: { path: '^domain/fingerprint\\.ts$' },
    },
    {
      name: 'activities-import-domain',
      severity: 'error',
      comment:
        'Activities implement domain ports; they never reach into workflows, api, config or cli. The one exception is the search attributes, Temporal’s own contract, which the fleet activity reads its members by.',
      from: { path: '^activities/' },
      to: {
        path: '^(workflows|api|config|cli|scripts|simulator|test|bench)/|^worker\\.ts$',
        pathNot: '^workflows/search-attributes\\.ts$',
      },
    },
    {
      name: 'config-imports-domain',
      severity: 'error',
      from: { path: '^config/' },
      to: { path: '^(activities|workflows|api|common|cli|scripts|simulator|test|bench)/|^worker\\.ts$' },
    },
    {
      name: 'api-imports-domain-and-the-workflow-contract',
      severity: 'error',
      comment:
        'The API talks to rotations through Temporal: domain schemas and the workflow’s messages, search attributes and start options; adapters are injected by api/server.ts. Of the schedule triggers and the fleet it imports only their argument types (the schedules’ actions, a fleet’s start), and the fleet’s messages.',
      from: { path: '^api/', pathNot: '^api/server\\.ts$' },
      to: {
        path: '^(activities|config|cli|scripts|simulator|test|bench)/|^worker\\.ts$|^workflows/',
        pathNot:
          '^workflows/(messages|search-attributes|start-options|scheduled-rotation|fleet|fleet-messages)\\.ts$',
      },
    },
    {
      name: 'api-imports-schedule-trigger-types-only',
      severity: 'error',
      from: { path: '^api/' },
      to: { path: '^workflows/(scheduled-rotation|fleet)\\.ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'cli-imports-domain-and-messages',
      severity: 'error',
      from: { path: '^cli/' },
      to: {
        path: '^(activities|config|api|common|scripts|simulator|test|bench)/|^worker\\.ts$|^workflows/',
        pathNot: '^workflows/messages\\.ts$',
      },
    },
    {
      name: 'common-is-infrastructure',
      severity: 'error',
      comment: 'common/ (metrics) may use domain/ but no layer above it.',
      from: { path: '^common/' },
      to: { path: '^(activities|workflows|api|config|cli|scripts|simulator|test|bench)/|^worker\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|\\.tools|\\.run|test/histories)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
  },
};
