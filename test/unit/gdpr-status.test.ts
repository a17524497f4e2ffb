import { describe, expect, it } from 'vitest';
import { buildGdprStatus, piiSelfTest, redisPlace, type GdprStatusInput } from '../../src/domain/compliance/gdpr-status.js';
import { Redactor } from '../../src/domain/compliance/pii.js';
import { piiTypes } from '../../src/domain/compliance/pii-types.js';
import { checkResidency } from '../../src/domain/llm/residency.js';

const policy = { allowNonEu: false, extraAllowed: [] };
const at = new Date('2026-12-01T12:00:00Z');

function input(overrides: Partial<GdprStatusInput> = {}): GdprStatusInput {
  return {
    residency: [{ path: 'direct', verdict: checkResidency('eu-central-1', policy) }],
    selfTest: piiSelfTest(),
    retention: [{ data: 'executions', oldest: new Date(at.getTime() - 3_600_000), limitHours: 24, setting: 'BSM_EXECUTION_RETENTION_DAYS' }],
    auditTrail: { ok: true, stored: 3, scope: 'full', checked: 3, problem: null },
    archiveUrl: 'file://./data/archive',
    ...overrides,
  };
}

describe('PII self-test', () => {
  it('passes with the real redactor, every detector type replaced', () => {
    const result = piiSelfTest();
    expect(result.failed).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.types).toEqual([...piiTypes]);
  });

  it('fails naming the type when a detector misses its sample', () => {
    const broken = () => {
      const real = new Redactor();
      // A redactor whose e-mail detector is broken: the address comes through as it was.
      return { redact: (text: string) => real.redact(text.replace('jane.doe@example.com', '\u0000')).replace('\u0000', 'jane.doe@example.com') };
    };
    const result = piiSelfTest(broken);
    expect(result.ok).toBe(false);
    expect(result.failed).toEqual(['EMAIL']);
    expect(result.detail).toContain('EMAIL');
  });

  it('fails every type when the redactor throws', () => {
    const result = piiSelfTest(() => ({ redact: () => { throw new Error('boom'); } }));
    expect(result.ok).toBe(false);
    expect(result.detail).toContain('boom');
  });
});

describe('GDPR status', () => {
  it('is compliant when every check passes', () => {
    const status = buildGdprStatus(input(), at);
    expect(status.status).toBe('compliant');
    expect(status.checks.map((c) => c.id)).toEqual(['llm.residency', 'pii.redaction', 'retention', 'audit-trail.integrity', 'archive.location']);
  });

  it('is a violation naming the check for a non-EU region, data kept too long, a broken trail, a non-EU archive', () => {
    const failing = (i: GdprStatusInput) => buildGdprStatus(i, at).checks.filter((c) => !c.ok).map((c) => c.id);
    expect(failing(input({ residency: [{ path: 'direct', verdict: checkResidency('us-east-1', policy) }] }))).toEqual(['llm.residency']);
    expect(failing(input({ retention: [{ data: 'executions', oldest: new Date(at.getTime() - 48 * 3_600_000), limitHours: 24, setting: 'X' }] }))).toEqual(['retention']);
    expect(failing(input({ auditTrail: { ok: false, stored: 3, scope: 'full', checked: 3, problem: 'broken link at seq 2' } }))).toEqual(['audit-trail.integrity']);
    expect(failing(input({ archiveUrl: 's3://bucket/trail?region=us-east-1' }))).toEqual(['archive.location']);
    expect(failing(input({ archiveUrl: 's3://bucket/trail?region=eu-west-1' }))).toEqual([]);
    expect(buildGdprStatus(input({ residency: [{ path: 'direct', verdict: checkResidency('us-east-1', policy) }] }), at).status).toBe('violation');
  });
});

describe('where Redis is', () => {
  it('takes the region from an ElastiCache host name, never the credentials', () => {
    expect(redisPlace('rediss://user:secret@bsm.abc123.ng.0001.euc1.cache.amazonaws.com:6379/0')).toEqual({
      where: 'rediss://bsm.abc123.ng.0001.euc1.cache.amazonaws.com:6379',
      region: 'eu-central-1',
      basis: 'ElastiCache host name (euc1)',
    });
  });

  it('leaves the region unknown for loopback and other hosts', () => {
    expect(redisPlace('redis://:pw@127.0.0.1:6379')).toMatchObject({ where: 'redis://127.0.0.1:6379', region: null, basis: expect.stringContaining('loopback') as unknown });
    expect(redisPlace('redis://redis.internal:6379')).toMatchObject({ region: null, basis: 'the host name does not say its region' });
  });
});
