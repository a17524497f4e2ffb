import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * The deployment files, checked as text (there is no Docker engine where the tests run): what a
 * user gets from `docker compose up` and from the image.
 */
interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  ports?: string[];
  restart?: string;
  env_file?: unknown;
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
}

const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as { services: Record<string, Service> };
const dockerfile = readFileSync('Dockerfile', 'utf8');
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
const roles = ['api', 'worker', 'scheduler'] as const;

describe('docker-compose.yml', () => {
  it('does not publish Redis on the host, and offers a password', () => {
    const redis = compose.services.redis;
    expect(redis?.ports ?? []).toEqual([]);
    expect(redis?.command?.join(' ')).toContain('--requirepass');
    for (const role of roles) {
      expect(compose.services[role]?.environment?.REDIS_URL).toBe('redis://:${REDIS_PASSWORD:-}@redis:6379');
    }
  });

  it('gives every role a healthcheck, a restart policy and the settings of an optional .env file', () => {
    for (const role of roles) {
      const s = compose.services[role];
      expect(s?.healthcheck?.test).toEqual(['CMD', 'node', 'dist/healthcheck.js', role]);
      expect(s?.restart).toBe('unless-stopped');
      expect(s?.env_file).toEqual([{ path: '.env', required: false }]);
    }
  });

  it('builds one image, which all roles run', () => {
    const built = Object.entries(compose.services).filter(([, s]) => s.build !== undefined);
    expect(built.map(([name]) => name)).toEqual(['api']);
    expect(new Set(roles.map((r) => compose.services[r]?.image))).toEqual(new Set(['bedrock-support-mode:local']));
  });

  it('publishes the API on the loopback interface only', () => {
    expect(compose.services.api?.ports).toEqual(['127.0.0.1:3000:3000']);
  });
});

describe('Dockerfile', () => {
  it('has a healthcheck, and the image carries no TypeScript runner', () => {
    expect(dockerfile).toMatch(/^HEALTHCHECK .*CMD \["node", "dist\/healthcheck\.js", "api"\]$/m);
    // tsx (and esbuild with it) is only for `npm start` from a checkout: a dev dependency, pruned from the image.
    expect(pkg.dependencies.tsx).toBeUndefined();
    expect(pkg.devDependencies.tsx).toBeDefined();
    expect(dockerfile).toContain('npm prune --omit=dev');
  });

  it('turns off npm update checks, funding and audit calls', () => {
    expect(dockerfile).toContain('npm_config_update_notifier=false');
    expect(dockerfile).toMatch(/npm_config_fund=false/);
    expect(dockerfile).toMatch(/npm_config_audit=false/);
  });
});
