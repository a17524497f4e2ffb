import type { TargetOf } from '../domain/audit/inventory.js';
import type { SpecFiles } from '../domain/gaps/spec-scan.js';
import { specsFolder } from '../domain/gaps/spec-scan.js';
import { observation, unreachable, type Findings } from './findings.js';

/**
 * A `spec` target is a local directory, not a network service: the auditor checks that its
 * workers can read it and that it holds `.kiro/specs`. Reading the task lists is the spec scan's
 * work (implementation support), which a comprehensive audit enqueues.
 */
export async function probeSpec(target: TargetOf<'spec'>, files: Pick<SpecFiles, 'listSpecs'>): Promise<Findings> {
  const listing = await files.listSpecs(target.path);
  if (listing.kind === 'problem' && listing.problem !== 'no_specs_folder') {
    return unreachable(target, /EACCES|EPERM/.test(listing.detail) ? 'unauthorized' : 'not_configured', listing.detail);
  }
  const found = listing.kind === 'listed';
  return {
    reach: { reachable: true },
    observations: [
      observation('specs-folder', `${target.path} holds a ${specsFolder} folder`, `a ${specsFolder} folder`, found ? `${listing.specs.length} spec${listing.specs.length === 1 ? '' : 's'}` : `no ${specsFolder} folder`, found, 'configuration_drift'),
    ],
  };
}
