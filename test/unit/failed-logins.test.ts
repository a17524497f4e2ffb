import { describe, expect, it } from 'vitest';
import { FailedLogins, tokenFingerprint } from '../../src/api/failed-logins.js';
import { createLogger } from '../../src/observability/logger.js';

function tracker(limits: Partial<ConstructorParameters<typeof FailedLogins>[0]> = {}) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger('info', {}, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  const logins = new FailedLogins({ maxFailures: 3, windowMs: 60_000, logLines: 2, maxClients: 100, ...limits }, logger);
  return { logins, lines };
}

const attempt = { scheme: 'bearer' as const, token: 'not-a-key-0123456789', method: 'GET', path: '/admin/bedrock-support/status' };

describe('failed logins', () => {
  it('locks a client out after its limit until its window ends, then counts afresh', () => {
    const { logins } = tracker();
    const t0 = 1_000_000;
    for (let i = 0; i < 2; i++) {
      logins.failed('a', t0 + i, attempt);
    }
    expect(logins.lockedFor('a', t0 + 10)).toBe(0);
    logins.failed('a', t0 + 20, attempt);
    expect(logins.lockedFor('a', t0 + 30_000)).toBe(30_000);
    expect(logins.lockedFor('b', t0 + 30_000)).toBe(0);
    expect(logins.lockedFor('a', t0 + 60_000)).toBe(0);
    logins.failed('a', t0 + 60_001, attempt);
    expect(logins.lockedFor('a', t0 + 60_002)).toBe(0);
  });

  it('tracks a bounded number of clients: a flood from many addresses forgets the oldest windows, and says what they did not log', () => {
    const { logins, lines } = tracker({ maxClients: 5, logLines: 1 });
    const t0 = 1_000_000;
    logins.failed('first', t0, attempt);
    logins.failed('first', t0, attempt);
    for (let i = 0; i < 50; i++) {
      logins.failed(`10.0.0.${i}`, t0 + 1 + i, attempt);
      expect(logins.size).toBeLessThanOrEqual(5);
    }
    expect(lines.find((l) => l.client === 'first' && l.msg === 'failed logins of a client, counted but not logged one by one')).toMatchObject({ failures: 2, unlogged: 1, refused: 0 });
    // Forgotten: its count starts again.
    logins.failed('first', t0 + 100, attempt);
    logins.failed('first', t0 + 100, attempt);
    expect(logins.lockedFor('first', t0 + 101)).toBe(0);
  });

  it('drops windows that are over as new failures come, so idle clients do not stay in memory', () => {
    const { logins } = tracker();
    for (let i = 0; i < 20; i++) {
      logins.failed(`192.0.2.${i}`, 1_000 + i, attempt);
    }
    expect(logins.size).toBe(20);
    logins.failed('192.0.2.200', 1_000 + 60_000 + 19, attempt);
    expect(logins.size).toBe(1);
  });

  it('fingerprints a token in 12 hex characters, the same for the same token, without showing it', () => {
    expect(tokenFingerprint('a-token-0123456789')).toMatch(/^[0-9a-f]{12}$/);
    expect(tokenFingerprint('a-token-0123456789')).toBe(tokenFingerprint('a-token-0123456789'));
    expect(tokenFingerprint('a-token-0123456789')).not.toBe(tokenFingerprint('a-token-0123456780'));
  });
});
