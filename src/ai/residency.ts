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
