/**
 * Overlap resolution: when two detectors claim the same characters only one finding is kept, and
 * numeric findings inside a UUID or an ISO date/time are dropped.
 */
import type { PiiMatch, PiiType } from './pii-types.js';

/**
 * Which finding wins when two overlap: lower first, then the longer one.
 * Secrets and key blocks go first because a leak of them is the most damaging; a value found
 * by its key name (`SECRET`) gives way to a more specific secret kind on the same characters.
 */
const precedence: Record<PiiType, number> = {
  PRIVATE_KEY: 0,
  AWS_SECRET_KEY: 1,
  AWS_ACCESS_KEY: 1,
  BEARER_TOKEN: 1,
  SECRET: 2,
  EMAIL: 3,
  IBAN: 4,
  CARD: 4,
  SSN: 4,
  IPV6: 5,
  IPV4: 5,
  PHONE: 6,
};

/** Numeric findings that a UUID or an ISO date/time next to them must not produce. */
const guardedTypes: ReadonlySet<PiiType> = new Set<PiiType>(['PHONE', 'CARD', 'SSN', 'IPV4', 'IPV6']);

const uuidPattern = /(?<![0-9A-Fa-f-])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![0-9A-Fa-f-])/g;
const isoDateTimePattern =
  /(?<![\w+\-./])\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?:[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:[.,]\d{1,9})?)?(?:Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)?)?/g;

/**
 * The findings among `candidates` that do not overlap, in text order: secrets and key blocks win,
 * then the more specific kind, then the longer match; guarded numeric kinds next to a UUID or an ISO
 * date/time are dropped.
 */
export function resolveOverlaps(text: string, candidates: PiiMatch[]): PiiMatch[] {
  if (candidates.length === 0) {
    return [];
  }

  const taken = new Uint8Array(text.length);
  const guarded = new Uint8Array(text.length);
  for (const pattern of [uuidPattern, isoDateTimePattern]) {
    for (const m of text.matchAll(pattern)) {
      guarded.fill(1, m.index, m.index + m[0].length);
    }
  }

  candidates.sort(
    (a, b) => precedence[a.type] - precedence[b.type] || b.end - b.start - (a.end - a.start) || a.start - b.start,
  );
  const accepted: PiiMatch[] = [];
  for (const candidate of candidates) {
    if (anySet(taken, candidate.start, candidate.end)) {
      continue;
    }
    if (guardedTypes.has(candidate.type) && anySet(guarded, candidate.start, candidate.end)) {
      continue;
    }
    taken.fill(1, candidate.start, candidate.end);
    accepted.push(candidate);
  }
  return accepted.sort((a, b) => a.start - b.start);
}

function anySet(mask: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    if (mask[i] === 1) {
      return true;
    }
  }
  return false;
}
