/**
 * Who may import whom (ports and adapters). `npm run lint` runs this check; the README's
 * layout section says the same in words.
 *
 * - domain/: the work and the interfaces it needs (ports). Only domain/, node:* and zod.
 * - adapters (store/, queues/, providers/, probes/): implement the ports; import domain/ and the
 *   platform modules (config, redis, observability), never another adapter folder.
 * - driving sides (api/, workers/, scheduler/): receive adapters from the composition root
 *   (runtime/, main.ts) and call the domain; they never build a store or a provider.
 */
const adapters = '^src/(store|queues|providers|probes)/';
const libraries = {
  http: '^node_modules/(hono|@hono|@bull-board)/',
  redis: '^node_modules/(ioredis|bullmq)/',
  aws: '^node_modules/(@aws-sdk|@smithy|@modelcontextprotocol)/',
};

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'domain-is-pure',
      comment: 'domain/ imports only domain/, node:* and zod: no Hono, BullMQ, ioredis, pino, AWS or MCP SDK, no adapter.',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: { pathNot: ['^src/domain/', '^node_modules/zod/'], dependencyTypesNot: ['core'] },
    },
    {
      name: 'adapter-imports-no-other-adapter',
      comment: 'An adapter (store/, queues/, providers/, probes/) imports domain/, never another adapter folder.',
      severity: 'error',
      from: { path: adapters },
      to: { path: [adapters, '^src/(api|workers|scheduler|runtime)/', '^src/main\\.ts$'], pathNot: '^src/$1/' },
    },
    {
      name: 'drivers-get-adapters-from-the-root',
      comment: 'api/, workers/ and scheduler/ receive stores, providers and the prober from the composition root (runtime/), they do not import them.',
      severity: 'error',
      from: { path: '^src/(api|workers|scheduler)/' },
      to: { path: ['^src/(store|providers|probes|runtime)/', '^src/main\\.ts$'] },
    },
    {
      name: 'drivers-stay-apart',
      comment: 'The driving sides do not import each other.',
      severity: 'error',
      from: { path: '^src/(api|workers|scheduler)/' },
      to: { path: '^src/(api|workers|scheduler)/', pathNot: '^src/$1/' },
    },
    {
      name: 'http-only-in-api',
      comment: 'Hono and Bull Board only in api/ (and the composition root that serves it).',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/api/', '^src/runtime/', '^src/main\\.ts$'] },
      to: { path: libraries.http },
    },
    {
      name: 'sdks-only-in-providers',
      comment: 'The AWS and MCP SDKs only in the adapters that talk to them, and the MCP SDK in the MCP server (api/mcp/).',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/providers/', '^src/observability/', '^src/api/mcp/'] },
      to: { path: libraries.aws },
    },
    {
      name: 'redis-clients-only-in-adapters',
      comment: 'ioredis and BullMQ in adapters, workers, scheduler and the composition root; never in api/ or domain/.',
      severity: 'error',
      from: { path: '^src/(api|domain)/' },
      to: { path: libraries.redis, dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-bundled', 'npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'cli-speaks-http-only',
      comment: 'The operator CLI (cli/) talks to a running service over HTTP: it imports cli/, node:* and commander, never the service code.',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { pathNot: ['^src/cli/', '^node_modules/commander/'], dependencyTypesNot: ['core'] },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^(src|node_modules)/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
