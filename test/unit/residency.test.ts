import { describe, expect, it } from 'vitest';
import { checkModelResidency, checkResidency, euRegions } from '../../src/domain/llm/residency.js';

const strict = { allowNonEu: false, extraAllowed: [] };

describe('checkResidency', () => {
  it('accepts exactly the eight EU regions of the allow-list', () => {
    expect([...euRegions].sort()).toEqual(
      ['eu-central-1', 'eu-central-2', 'eu-north-1', 'eu-south-1', 'eu-south-2', 'eu-west-1', 'eu-west-2', 'eu-west-3'],
    );
    for (const region of euRegions) {
      expect(checkResidency(region, strict)).toEqual({ ok: true, region, basis: 'eu' });
    }
  });

  it('refuses a region outside the EU and says why', () => {
    const verdict = checkResidency('us-east-1', strict);
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) {
      expect(verdict.reason).toContain('us-east-1');
      expect(verdict.reason).toContain('outside the EU');
    }
  });

  it('refuses EU-looking names that are not on the list', () => {
    expect(checkResidency('eu-east-1', strict).ok).toBe(false);
    expect(checkResidency('il-central-1', strict).ok).toBe(false);
  });

  it('refuses an empty region', () => {
    const verdict = checkResidency('  ', strict);
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) {
      expect(verdict.reason).toContain('no region');
    }
  });

  it('compares regions case-insensitively', () => {
    expect(checkResidency(' EU-West-1 ', strict)).toEqual({ ok: true, region: 'eu-west-1', basis: 'eu' });
  });

  it('accepts an extra allowed region, and only that one', () => {
    const policy = { allowNonEu: false, extraAllowed: ['us-east-1'] };
    expect(checkResidency('us-east-1', policy)).toEqual({ ok: true, region: 'us-east-1', basis: 'extra_allowed' });
    expect(checkResidency('us-west-2', policy).ok).toBe(false);
  });

  it('accepts any region when non-EU regions are allowed', () => {
    expect(checkResidency('ap-southeast-2', { allowNonEu: true, extraAllowed: [] })).toEqual({
      ok: true,
      region: 'ap-southeast-2',
      basis: 'non_eu_allowed',
    });
  });
});

describe('checkModelResidency', () => {
  it('accepts plain model ids and EU inference profiles in an EU region', () => {
    expect(checkModelResidency('anthropic.claude-3-sonnet-20240229-v1:0', 'eu-central-1', strict)).toEqual({ ok: true, region: 'eu-central-1', basis: 'eu' });
    expect(checkModelResidency('eu.anthropic.claude-3-7-sonnet-20250219-v1:0', 'eu-west-1', strict)).toEqual({ ok: true, region: 'eu-west-1', basis: 'eu' });
  });

  it.each(['us.anthropic.claude-3-5-sonnet-20241022-v2:0', 'global.anthropic.claude-sonnet-4-20250514-v1:0', 'apac.amazon.nova-pro-v1:0', 'us-gov.anthropic.claude-3-haiku-20240307-v1:0'])(
    'refuses the non-EU inference profile %s even when called in an EU region',
    (modelId) => {
      const verdict = checkModelResidency(modelId, 'eu-central-1', strict);
      expect(verdict.ok).toBe(false);
      if (!verdict.ok) {
        expect(verdict.reason).toContain(modelId);
        expect(verdict.reason).toContain('served outside the EU');
      }
      // Naming the calling region as an extra allowed one changes nothing: the profile spreads further.
      expect(checkModelResidency(modelId, 'eu-central-1', { allowNonEu: false, extraAllowed: ['eu-central-1', 'us-east-1'] }).ok).toBe(false);
      expect(checkModelResidency(modelId, 'eu-central-1', { allowNonEu: true, extraAllowed: [] }).ok).toBe(true);
    },
  );

  it('still refuses a non-EU region whatever the model', () => {
    expect(checkModelResidency('eu.anthropic.claude-3-7-sonnet-20250219-v1:0', 'us-east-1', strict).ok).toBe(false);
  });
});
