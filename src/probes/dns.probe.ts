/**
 * The `dns` kind: whether a name resolves, the way the programs that use it resolve it (the
 * system's resolver: hosts file, then DNS), and whether it resolves to the addresses expected.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { TargetOf } from '../domain/audit/inventory.js';
import type { Observation } from '../domain/audit/probe.js';
import { causeOf, describeError, observation, type Findings } from './findings.js';

export async function probeDns(target: TargetOf<'dns'>): Promise<Findings> {
  let addresses: string[];
  try {
    // getaddrinfo cannot be cancelled: on a timeout the prober stops waiting for it.
    addresses = (await lookup(target.name, { all: true, verbatim: true })).map((a) => a.address);
  } catch (err) {
    const detail = describeError(err);
    return {
      reach: { reachable: false, cause: causeOf(err) === 'timeout' ? 'timeout' : 'dns', detail },
      observations: [observation('resolves', `${target.name} resolves`, 'one or more addresses', `does not resolve: ${detail}`, false, 'broken_integration')],
    };
  }
  const found = [...new Set(addresses.map(normalise))].sort();
  const observations: Observation[] = [observation('resolves', `${target.name} resolves`, 'one or more addresses', found.join(', '), true, 'broken_integration')];
  if (target.expectAddresses !== undefined) {
    const wanted = [...new Set(target.expectAddresses.map(normalise))].sort();
    const same = wanted.length === found.length && wanted.every((a, i) => a === found[i]);
    observations.push(observation('addresses', `${target.name} resolves to ${wanted.join(', ')}`, wanted.join(', '), found.join(', '), same, 'configuration_drift'));
  }
  return { reach: { reachable: true }, observations };
}

/** One spelling per address: IPv6 in its canonical form (`::1`, not `0:0:0:0:0:0:0:1`). */
function normalise(address: string): string {
  const a = address.trim();
  return isIP(a) === 6 ? new URL(`http://[${a}]/`).hostname.slice(1, -1) : a;
}
