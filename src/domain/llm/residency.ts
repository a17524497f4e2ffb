/** AWS regions inside the EU where prompts may be processed without an explicit opt-out. */
export const euRegions = [
  'eu-central-1',
  'eu-west-1',
  'eu-west-2',
  'eu-west-3',
  'eu-north-1',
  'eu-south-1',
  'eu-south-2',
  'eu-central-2',
] as const;

/** What the operator allows beyond the EU list. */
export interface ResidencyPolicy {
  /** Accept any region (an explicit decision to leave EU residency). */
  allowNonEu: boolean;
  /** Extra regions accepted besides {@link euRegions}. */
  extraAllowed: readonly string[];
}

/** The verdict for one region; `reason` is a sentence an operator can act on. */
export type ResidencyVerdict =
  | { ok: true; region: string; basis: 'eu' | 'extra_allowed' | 'non_eu_allowed' }
  | { ok: false; region: string; reason: string };

/**
 * Decides whether prompts may be sent to a model in `region`.
 * Region names are compared case-insensitively, surrounding blanks ignored.
 */
export function checkResidency(region: string, policy: ResidencyPolicy): ResidencyVerdict {
  const normalised = region.trim().toLowerCase();
  if (normalised.length === 0) {
    return { ok: false, region, reason: 'no region is configured, so EU data residency cannot be established' };
  }
  if ((euRegions as readonly string[]).includes(normalised)) {
    return { ok: true, region: normalised, basis: 'eu' };
  }
  if (policy.extraAllowed.some((allowed) => allowed.trim().toLowerCase() === normalised)) {
    return { ok: true, region: normalised, basis: 'extra_allowed' };
  }
  if (policy.allowNonEu) {
    return { ok: true, region: normalised, basis: 'non_eu_allowed' };
  }
  return {
    ok: false,
    region: normalised,
    reason:
      `region ${normalised} is outside the EU allow-list (${euRegions.join(', ')}); ` +
      'prompts are not sent there unless non-EU regions are allowed or the region is added to the extra allow-list',
  };
}

/**
 * Geography prefixes of Bedrock's cross-region inference profiles (`eu.anthropic…`): a call made in
 * one region may be served in any region of that geography, so the region alone does not settle
 * where the prompt goes. `global.` may be served anywhere.
 */
const profileGeographies: Record<string, 'eu' | 'non_eu'> = {
  eu: 'eu',
  us: 'non_eu',
  'us-gov': 'non_eu',
  apac: 'non_eu',
  jp: 'non_eu',
  au: 'non_eu',
  ca: 'non_eu',
  global: 'non_eu',
};

/**
 * Decides whether prompts may go to `modelId` called in `region`: the region must pass
 * {@link checkResidency}, and a cross-region inference profile must stay in the EU too. Only
 * `allowNonEu` lets a non-EU profile through; an extra allowed region does not, since the
 * profile spreads calls over regions that were not named.
 */
export function checkModelResidency(modelId: string, region: string, policy: ResidencyPolicy): ResidencyVerdict {
  const byRegion = checkResidency(region, policy);
  if (!byRegion.ok || policy.allowNonEu) {
    return byRegion;
  }
  const geography = /^([a-z-]+)\.[a-z0-9-]+\./.exec(modelId.trim().toLowerCase())?.[1];
  if (geography !== undefined && profileGeographies[geography] === 'non_eu') {
    return {
      ok: false,
      region: byRegion.region,
      reason:
        `model ${modelId} is a ${geography === 'global' ? 'global' : `"${geography}"`} cross-region inference profile, served outside the EU even when called in ${byRegion.region}; ` +
        'use an "eu." profile or a plain model id, or allow non-EU regions',
    };
  }
  return byRegion;
}

/** Where the LLM paths send prompts, as the operator configured it. */
export interface ResidencySettings extends ResidencyPolicy {
  /** `AWS_REGION`: where the direct path calls Bedrock. */
  region: string;
  /** `MCP_REGION`: where the MCP server has prompts processed; unknown when absent. */
  mcpRegion?: string | undefined;
}

/** One path's residency verdict. */
export interface PathResidency {
  path: 'direct' | 'mcp';
  verdict: ResidencyVerdict;
}

/**
 * The one residency decision for a path, used by the router before every call and by the
 * compliance check. The direct path is checked by region and, when its model is known, by the
 * model's inference profile; the MCP path only when `mcpRegion` says where it processes
 * prompts (null otherwise: the operator has not declared it).
 */
export function pathResidency(path: 'direct' | 'mcp', settings: ResidencySettings, directModel?: string): ResidencyVerdict | null {
  if (path === 'direct') {
    return directModel === undefined ? checkResidency(settings.region, settings) : checkModelResidency(directModel, settings.region, settings);
  }
  return settings.mcpRegion === undefined ? null : checkResidency(settings.mcpRegion, settings);
}

/** Every path's verdict that can be decided (see {@link pathResidency}). */
export function residencyReport(settings: ResidencySettings, directModel?: string): PathResidency[] {
  return (['direct', 'mcp'] as const).flatMap((path) => {
    const verdict = pathResidency(path, settings, directModel);
    return verdict === null ? [] : [{ path, verdict }];
  });
}
