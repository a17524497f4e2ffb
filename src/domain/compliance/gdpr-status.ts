/**
 * The GDPR status of the runbook's "Compliance Operations": each check from values measured when it
 * is asked for (residency as the router decides it, a redaction self-test, the oldest data still
 * kept, the audit trail's verification, where the archive is), never from settings alone.
 */
import { z } from 'zod';
import { euRegions, type PathResidency } from '../llm/residency.js';
import { Redactor } from './pii-redactor.js';
import { piiTypes, type PiiType } from './pii-types.js';

/** One sample of each detector type: the text put in the canary, and the sensitive part that must not survive. */
export const piiCanarySamples: Record<PiiType, { text: string; value: string }> = {
  EMAIL: { text: 'mail jane.doe@example.com', value: 'jane.doe@example.com' },
  PHONE: { text: 'call +49 30 12345678', value: '+49 30 12345678' },
  IBAN: { text: 'iban DE89370400440532013000', value: 'DE89370400440532013000' },
  CARD: { text: 'card 4111 1111 1111 1111', value: '4111 1111 1111 1111' },
  SSN: { text: 'ssn 536-22-8745', value: '536-22-8745' },
  IPV4: { text: 'host 203.0.113.7', value: '203.0.113.7' },
  IPV6: { text: 'host6 2001:db8:85a3::8a2e:370:7334', value: '2001:db8:85a3::8a2e:370:7334' },
  AWS_ACCESS_KEY: { text: 'key AKIAIOSFODNN7EXAMPLE', value: 'AKIAIOSFODNN7EXAMPLE' },
  AWS_SECRET_KEY: { text: 'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', value: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
  BEARER_TOKEN: { text: 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlX3ZhbHVl', value: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlX3ZhbHVl' },
  SECRET: { text: 'password=Hunter2-correct-horse', value: 'Hunter2-correct-horse' },
  PRIVATE_KEY: {
    text: '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----',
    value: '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----',
  },
};

export const piiSelfTestSchema = z.object({
  ok: z.boolean(),
  /** Every detector type the canary carried a sample of. */
  types: z.array(z.string()),
  /** Types whose sample was not replaced by a placeholder of its type, or whose value survived. */
  failed: z.array(z.string()),
  detail: z.string(),
});
export type PiiSelfTest = z.infer<typeof piiSelfTestSchema>;

/**
 * Runs a redactor over a canary with one sample of every detector type and checks that each
 * sample's value is gone and a placeholder of its type took its place.
 */
export function piiSelfTest(makeRedactor: () => { redact(text: string): string } = () => new Redactor()): PiiSelfTest {
  const canary = piiTypes.map((type) => piiCanarySamples[type].text).join('\n');
  let redacted: string;
  try {
    redacted = makeRedactor().redact(canary);
  } catch (err) {
    return { ok: false, types: [...piiTypes], failed: [...piiTypes], detail: `the redactor threw on the canary: ${(err as Error).message}` };
  }
  const failed = piiTypes.filter((type) => redacted.includes(piiCanarySamples[type].value) || !new RegExp(`\\[${type}_[1-9]\\d*\\]`).test(redacted));
  return {
    ok: failed.length === 0,
    types: [...piiTypes],
    failed,
    detail:
      failed.length === 0
        ? `all ${piiTypes.length} detector types replaced in the canary (${piiTypes.join(', ')})`
        : `${failed.length} of ${piiTypes.length} detector types not redacted in the canary: ${failed.join(', ')}`,
  };
}

/** The oldest item of one kind still kept, against how long it may be kept. */
export interface RetentionMeasure {
  /** What is kept, e.g. `executions`, `jobs:audit:completed`, `audit-trail`. */
  data: string;
  /** When the oldest kept item was made (null: none kept). */
  oldest: Date | null;
  limitHours: number;
  /** The setting the limit comes from. */
  setting: string;
}

/** The audit trail's verification as the status reports it. */
export interface AuditTrailMeasure {
  ok: boolean;
  /** Entries stored in Redis. */
  stored: number;
  /** `full`: every stored entry and the checkpoints; `tail`: the newest `checked` only (the trail was too long to read at once). */
  scope: 'full' | 'tail';
  checked: number;
  problem: string | null;
}

export interface GdprStatusInput {
  residency: readonly PathResidency[];
  selfTest: PiiSelfTest;
  retention: readonly RetentionMeasure[];
  auditTrail: AuditTrailMeasure;
  /** `BSM_ARCHIVE_URL`. */
  archiveUrl: string;
  /**
   * Every configured archive destination with its region as measured now (an S3 bucket's from
   * HeadBucket). Without it, the region is only what `archiveUrl` names.
   */
  archives?: readonly ArchiveLocation[];
}

/** Where one configured archive destination keeps the archive, as measured. */
export interface ArchiveLocation {
  name: string;
  url: string;
  kind: 'local' | 'remote';
  /** Null: not measurable (a local directory, or a bucket that did not answer). */
  region: string | null;
  /** How the region was found out, or why it is unknown. */
  basis: string;
}

/** Whether an archive location keeps EU residency: local, or a measured EU region. */
export const archiveInEu = (a: Pick<ArchiveLocation, 'kind' | 'region'>): boolean => a.kind === 'local' || (a.region !== null && (euRegions as readonly string[]).includes(a.region));

function archiveCheck(input: GdprStatusInput): GdprCheck {
  if (input.archives === undefined) {
    const archive = archivePlace(input.archiveUrl);
    const archiveOk = archiveInEu(archive);
    return {
      id: 'archive.location',
      ok: archiveOk,
      detail:
        archive.kind === 'local'
          ? `the archive is local (${archive.where})`
          : archive.region === null
            ? `the archive (${archive.where}) names no region, so EU residency cannot be established`
            : `the archive (${archive.where}) is in ${archive.region}${archiveOk ? ', in the EU' : ', outside the EU'}`,
      measured: { kind: archive.kind, where: archive.where, region: archive.region },
    };
  }
  const describe = (a: ArchiveLocation) =>
    a.kind === 'local'
      ? `${a.name}: local (${a.url})`
      : a.region === null
        ? `${a.name}: ${a.url} has no measured region (${a.basis}), so EU residency cannot be established`
        : `${a.name}: ${a.url} is in ${a.region}${archiveInEu(a) ? ', in the EU' : ', outside the EU'} (${a.basis})`;
  const primary = input.archives[0];
  return {
    id: 'archive.location',
    ok: input.archives.length > 0 && input.archives.every(archiveInEu),
    detail: input.archives.map(describe).join('; '),
    measured: {
      kind: primary?.kind ?? null,
      where: primary?.url ?? null,
      region: primary?.region ?? null,
      destinations: input.archives.map((a) => ({ name: a.name, url: a.url, kind: a.kind, region: a.region, basis: a.basis })),
    },
  };
}

export const gdprCheckSchema = z.object({
  id: z.string(),
  ok: z.boolean(),
  detail: z.string(),
  /** The values the verdict was made from, as measured for this request. */
  measured: z.record(z.string(), z.unknown()),
});
export type GdprCheck = z.infer<typeof gdprCheckSchema>;

export const gdprStatusSchema = z.object({
  measuredAt: z.string(),
  status: z.enum(['compliant', 'violation']),
  checks: z.array(gdprCheckSchema),
});
export type GdprStatus = z.infer<typeof gdprStatusSchema>;

/** Where an archive URL puts the archive: local, or a bucket in a region when the URL names one. */
export function archivePlace(url: string): { kind: 'local' | 'remote'; where: string; region: string | null } {
  if (url.startsWith('file://')) {
    return { kind: 'local', where: url.slice('file://'.length), region: null };
  }
  const parsed = URL.canParse(url) ? new URL(url) : null;
  const region = parsed?.searchParams.get('region') ?? /\.s3[.-]([a-z]{2}(?:-gov)?-[a-z]+-\d)\.amazonaws\.com$/.exec(parsed?.hostname ?? '')?.[1] ?? null;
  return { kind: 'remote', where: parsed ? `${parsed.protocol}//${parsed.host}${parsed.pathname}` : url, region };
}

/** ElastiCache endpoints carry a short region code (`euc1`, `use1`) before `.cache.amazonaws.com`. */
const elasticacheRegions: Record<string, string> = {
  euc1: 'eu-central-1',
  euc2: 'eu-central-2',
  euw1: 'eu-west-1',
  euw2: 'eu-west-2',
  euw3: 'eu-west-3',
  eun1: 'eu-north-1',
  eus1: 'eu-south-1',
  eus2: 'eu-south-2',
  use1: 'us-east-1',
  use2: 'us-east-2',
  usw1: 'us-west-1',
  usw2: 'us-west-2',
};

/** Where the Redis of `url` is: its scheme and host (never the credentials), and its region when the host name says it. */
export function redisPlace(url: string): { where: string; region: string | null; basis: string } {
  if (!URL.canParse(url)) {
    return { where: 'unknown', region: null, basis: 'the Redis URL cannot be parsed' };
  }
  const u = new URL(url);
  const where = `${u.protocol}//${u.host}`;
  const host = u.hostname.toLowerCase();
  const code = /\.([a-z]{3}\d)\.cache\.amazonaws\.com$/.exec(host)?.[1];
  if (code !== undefined) {
    const region = elasticacheRegions[code] ?? null;
    return { where, region, basis: region ? `ElastiCache host name (${code})` : `ElastiCache host name with region code ${code}, not one this service knows` };
  }
  if (host === 'localhost' || host === '127.0.0.1' || host === '[::1]' || host === '::1') {
    return { where, region: null, basis: 'loopback: the same host as this service, whose region is not measured' };
  }
  return { where, region: null, basis: 'the host name does not say its region' };
}

const hoursBetween = (from: Date, to: Date) => Math.round(((to.getTime() - from.getTime()) / 3_600_000) * 10) / 10;

/** The checks and the overall status: `violation` as soon as one check fails. */
export function buildGdprStatus(input: GdprStatusInput, at: Date): GdprStatus {
  const overdue = input.retention.filter((r) => r.oldest !== null && hoursBetween(r.oldest, at) > r.limitHours);
  const checks: GdprCheck[] = [
    {
      id: 'llm.residency',
      ok: input.residency.length > 0 && input.residency.every((r) => r.verdict.ok),
      detail:
        input.residency.length === 0
          ? 'no LLM path has a region to decide on'
          : input.residency.map(({ path, verdict: v }) => (v.ok ? `${path}: region ${v.region} is allowed (${v.basis})` : `${path}: not allowed: ${v.reason}`)).join('; '),
      measured: { paths: input.residency.map(({ path, verdict }) => ({ path, region: verdict.region, ok: verdict.ok, ...(verdict.ok ? { basis: verdict.basis } : { reason: verdict.reason }) })) },
    },
    {
      id: 'pii.redaction',
      ok: input.selfTest.ok,
      detail: `redaction runs on every LLM request; self-test: ${input.selfTest.detail}`,
      measured: { types: input.selfTest.types, failed: input.selfTest.failed },
    },
    {
      id: 'retention',
      ok: overdue.length === 0,
      detail:
        input.retention
          .map((r) => `${r.data}: ${r.oldest === null ? 'nothing kept' : `oldest ${hoursBetween(r.oldest, at)} h old`} (limit ${r.limitHours} h, ${r.setting})`)
          .join('; ') + (overdue.length === 0 ? '' : `; kept too long: ${overdue.map((r) => r.data).join(', ')}`),
      measured: {
        items: input.retention.map((r) => ({ data: r.data, oldest: r.oldest?.toISOString() ?? null, ageHours: r.oldest === null ? null : hoursBetween(r.oldest, at), limitHours: r.limitHours, setting: r.setting })),
      },
    },
    {
      id: 'audit-trail.integrity',
      ok: input.auditTrail.ok,
      detail:
        (input.auditTrail.scope === 'full'
          ? `${input.auditTrail.checked} stored entries verified against the anchor and the signed checkpoints`
          : `${input.auditTrail.stored} entries stored, more than the status verifies in full: the newest ${input.auditTrail.checked} verified (hashes, links, head); GET …/audit-trail/verify reads the whole trail`) +
        (input.auditTrail.problem === null ? '' : `; ${input.auditTrail.problem}`),
      measured: { stored: input.auditTrail.stored, scope: input.auditTrail.scope, checked: input.auditTrail.checked, problem: input.auditTrail.problem },
    },
    archiveCheck(input),
  ];
  return { measuredAt: at.toISOString(), status: checks.every((c) => c.ok) ? 'compliant' : 'violation', checks };
}
