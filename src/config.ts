/**
 * Every setting of the service, declared once with its type, default and meaning,
 * parsed once at start-up. A bad value stops the program with one line that names the
 * variable and what it expected.
 */
import { isIP } from 'node:net';
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { autoShutdownTriggers } from './domain/alerts/auto-shutdown.js';
import { webhookFormats, type WebhookFormat } from './domain/alerts/notification.js';
import { defaultRoutingMatrix, parseRoutingOverrides, type RoutingMatrix } from './domain/llm/routing-matrix.js';
import { queueNames, type QueueName } from './domain/queue-names.js';
import { parseSigningKey } from './domain/audit-trail/signing.js';

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Thrown when a setting is invalid; `message` is the one line to print. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

interface Setting<T> {
  /** What the value is for, shown in `bsm config` style listings and the README. */
  description: string;
  /** What a valid value looks like, used in the error line. */
  expected: string;
  schema: z.ZodType<T>;
  default?: T;
  /**
   * Set when nothing in this version reads the setting yet: it is validated now so a deployment
   * can carry it, and start-up warns that it has no effect until the named capability lands.
   */
  notUsedYet?: string;
  /** A secret: a bad value is described by its length, never printed. */
  secret?: true;
}

const integer = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no']))
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine((v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    });

/** An archive destination: `file://<path>`, or `s3://<bucket>/<prefix>` (a trailing `/` dropped, so one destination has one URL). */
const archiveUrl = z
  .string()
  .trim()
  .regex(/^(file:\/\/.|s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$)/)
  .transform((v) => (v.startsWith('s3://') ? v.replace(/\/+$/, '') : v));

/**
 * Five-field cron pattern (minute hour day-of-month month day-of-week), interpreted in UTC, parsed
 * by the cron-parser BullMQ's schedulers use, so a pattern it would refuse never gets past start-up.
 */
const cron = z
  .string()
  .trim()
  .regex(/^(\S+\s+){4}\S+$/)
  .refine((v) => {
    try {
      CronExpressionParser.parse(v, { tz: 'UTC' });
      return true;
    } catch {
      return false;
    }
  });

/** A share in percent, 0-100 (decimals allowed). */
const percent = z
  .string()
  .trim()
  .regex(/^\d+(\.\d+)?$/)
  .transform(Number)
  .refine((v) => v <= 100);

/** A relative increase in percent (0 and up). */
const percentAbove = z
  .string()
  .trim()
  .regex(/^\d+(\.\d+)?$/)
  .transform(Number)
  .refine((v) => v <= 100_000);

function setting<T>(s: Setting<T> & { default: T }): Setting<T> & { default: T };
function setting<T>(s: Omit<Setting<T>, 'default'>): Setting<T>;
function setting<T>(s: Setting<T>): Setting<T> {
  return s;
}

/** The settings that do not depend on a queue. Keys are environment variable names. */
const settings = {
  PORT: setting({ description: 'HTTP port of the api role', expected: 'an integer 1-65535', schema: integer(1, 65535), default: 3000 }),
  HOST: setting({
    description: 'address the api role listens on',
    expected: 'a host name or IP address',
    schema: z
      .string()
      .trim()
      .refine((v) => isIP(v) !== 0 || /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(v)),
    default: '127.0.0.1',
  }),
  BSM_PUBLIC_URL: setting({
    description: 'the address browsers reach the service at when it is not the one it listens on (behind an HTTPS proxy): its origin passes the cross-site check of state-changing requests besides the request\'s own',
    expected: 'an http:// or https:// URL, the address browsers reach the service at (e.g. https://bsm.example.com)',
    schema: url(['http:', 'https:']),
  }),
  BSM_URL: setting({
    description: 'where the client commands (`bsm mcp`) reach a running service; default http://127.0.0.1:PORT',
    expected: 'an http:// or https:// URL, e.g. http://127.0.0.1:3000',
    schema: url(['http:', 'https:']),
  }),
  BSM_TOKEN: setting({
    description: 'the API key the client commands (`bsm mcp`) send; default the admin token generated in BSM_DATA_DIR/admin-token',
    expected: 'a token of at least 16 characters',
    schema: z.string().trim().min(16),
    secret: true,
  }),
  REDIS_URL: setting({
    description:
      'Redis; when unset, the Redis on 127.0.0.1:BSM_REDIS_PORT, and when nothing answers there `bsm all` (`npm start`) starts a redis-server of its own (the other roles refuse to start). A Redis Cluster: `redis+cluster://host:port,host:port` (TLS: `rediss+cluster://`), or the URL of any one of its nodes (found to be a cluster node at start-up)',
    expected: 'a redis:// or rediss:// URL, or redis+cluster://host:port,host:port',
    schema: z.union([url(['redis:', 'rediss:']), z.string().trim().regex(/^rediss?\+cluster:\/\/([^@/]*@)?[^/,@]+(,[^/,@]+)*\/?$/)]),
  }),
  REDIS_CLUSTER_NODES: setting({
    description: 'seed nodes of a Redis Cluster (any of its nodes; the rest are found from them): every connection is a cluster connection. Credentials and TLS come from REDIS_URL when it is set too (its host is then not used)',
    expected: 'comma-separated host:port (e.g. 10.0.0.1:6379,10.0.0.2:6379)',
    schema: z.string().trim().regex(/^[^,:\s]+:\d{1,5}(,[^,:\s]+:\d{1,5})*$/),
  }),
  BSM_PREFIX: setting({
    description: 'prefix of every Redis key and queue',
    expected: 'letters, digits, "-" or "_" (1-64 characters)',
    schema: z.string().trim().regex(/^[A-Za-z0-9_-]{1,64}$/),
    default: 'bsm',
  }),
  BSM_API_KEYS: setting({
    description: 'comma-separated name:role:token; roles viewer, ingest, operator, approver, admin; tokens of 16 characters or more',
    expected: 'name:role:token[,name:role:token...]',
    schema: z.string().trim(),
  }),
  BSM_METRICS_TOKEN: setting({
    description: 'a bearer token for a Prometheus scraper: it reads GET /metrics and nothing else (an API key whose role reads works there too)',
    expected: 'a token of at least 16 characters (openssl rand -hex 24)',
    schema: z.string().trim().min(16),
  }),
  BSM_DATA_DIR: setting({ description: 'where local state lives (generated admin token, own redis-server data)', expected: 'a directory path', schema: z.string().trim().min(1), default: './data' }),
  BEDROCK_ENABLED: setting({ description: 'turns on the direct Bedrock path', expected: 'true or false', schema: bool, default: false }),
  BEDROCK_MODEL_ID: setting({ description: 'the Bedrock model', expected: 'a model id', schema: z.string().trim().min(1), default: 'anthropic.claude-3-sonnet-20240229-v1:0' }),
  AWS_REGION: setting({
    description: 'Bedrock and CloudWatch region; outside the EU the service refuses LLM calls unless told otherwise',
    expected: 'an AWS region such as eu-central-1',
    schema: z.string().trim().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/),
    default: 'eu-central-1',
  }),
  MCP_URL: setting({ description: 'turns on the MCP path', expected: 'an http:// or https:// URL', schema: url(['http:', 'https:']) }),
  MCP_REGION: setting({
    description: 'the AWS region where the MCP server has prompts processed; when set, the EU residency check covers the MCP path too',
    expected: 'an AWS region such as eu-central-1',
    schema: z.string().trim().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/),
  }),
  BSM_INVENTORY: setting({
    description: 'inventory file for the auditor; without it the auditor audits the fleet itself',
    expected: 'a file path',
    schema: z.string().trim().min(1),
  }),
  CLOUDWATCH_ENABLED: setting({
    description: 'publish metrics to CloudWatch (BSM_SCHEDULE_CLOUDWATCH), while the cloudwatch-publishing feature flag is on too',
    expected: 'true or false',
    schema: bool,
    default: false,
  }),
  ALERT_WEBHOOK_URL: setting({
    description: 'where alert notifications are posted (an alert firing, and resolved), as BullMQ jobs retried with back-off; unset: alerts are kept and listed, nothing is posted',
    expected: 'an http:// or https:// URL',
    schema: url(['http:', 'https:']),
  }),
  ALERT_ESCALATION_WEBHOOK_URL: setting({
    description: 'where an alert nobody acknowledged within its level\'s escalation delay (BSM_ALERT_ESCALATE_P0_MS …) is posted again, once; unset: no escalation',
    expected: 'an http:// or https:// URL',
    schema: url(['http:', 'https:']),
  }),
  BSM_ALERT_WEBHOOK_FORMAT: setting<WebhookFormat>({
    description: 'the body of alert notifications: slack ({text, blocks}, Slack incoming webhooks and compatible chat tools) or json ({event, alert})',
    expected: 'slack or json',
    schema: z.enum(webhookFormats),
    default: 'slack',
  }),
  BSM_ALERT_NOTIFY_ATTEMPTS: setting({ description: 'attempts to deliver one alert notification before it is given up (a 4xx other than 429 is not retried)', expected: 'an integer 1-50', schema: integer(1, 50), default: 10 }),
  BSM_ALERT_NOTIFY_BACKOFF_MS: setting({
    description: 'first retry delay of an alert notification, doubling on each attempt: 10 attempts from 7 s span about an hour',
    expected: 'an integer 100-3600000',
    schema: integer(100, 3_600_000),
    default: 7_000,
  }),
  BSM_ALERT_ESCALATE_P0_MS: setting({ description: 'a P0 alert not acknowledged this long after it fired is escalated (runbook: 15 minutes)', expected: 'an integer 100-604800000', schema: integer(100, 604_800_000), default: 15 * 60_000 }),
  BSM_ALERT_ESCALATE_P1_MS: setting({ description: 'a P1 alert not acknowledged this long after it fired is escalated (runbook: 30 minutes)', expected: 'an integer 100-604800000', schema: integer(100, 604_800_000), default: 30 * 60_000 }),
  BSM_ALERT_ESCALATE_P2_MS: setting({ description: 'a P2 alert not acknowledged this long after it fired is escalated (runbook: 1 hour)', expected: 'an integer 100-604800000', schema: integer(100, 604_800_000), default: 60 * 60_000 }),
  BSM_ALERT_MIN_SAMPLES: setting({
    description: 'finished jobs or routed LLM calls a 15-minute window needs before its error rate, routing efficiency or run-time p95 is judged',
    expected: 'an integer 1-100000',
    schema: integer(1, 100_000),
    default: 20,
  }),
  BSM_ALERT_ERROR_RATE_PCT: setting({
    description: 'P1 (and an automatic-shutdown trigger) when more than this share of the support operations\' jobs (infrastructure-auditor, meta-monitor, implementation-support) failed in 15 minutes',
    expected: 'a number 0-100',
    schema: percent,
    default: 10,
  }),
  BSM_ALERT_CONSECUTIVE_FAILURES: setting({
    description: 'P1 (and an automatic-shutdown trigger) when this many of a component queue\'s last finished jobs all failed',
    expected: 'an integer 2-1000',
    schema: integer(2, 1_000),
    default: 5,
  }),
  BSM_ALERT_DEGRADATION_P1_PCT: setting({ description: 'P1 when a queue\'s job run-time p95 of the last 15 minutes is more than this percent above that of the 15 minutes before', expected: 'a number 0-100000', schema: percentAbove, default: 50 }),
  BSM_ALERT_DEGRADATION_P2_PCT: setting({ description: 'P2 when it is more than this percent above (up to BSM_ALERT_DEGRADATION_P1_PCT)', expected: 'a number 0-100000', schema: percentAbove, default: 20 }),
  BSM_ALERT_DEGRADATION_MIN_P95_MS: setting({
    description: 'a run-time p95 below this is not judged for degradation: milliseconds of jitter on quick jobs are no slowdown',
    expected: 'an integer 0-3600000',
    schema: integer(0, 3_600_000),
    default: 1_000,
  }),
  BSM_ALERT_ROUTING_P1_PCT: setting({ description: 'P1 when the LLM routing efficiency of the last 15 minutes is below this percent', expected: 'a number 0-100', schema: percent, default: 60 }),
  BSM_ALERT_ROUTING_P2_PCT: setting({ description: 'P2 when it is below this percent (and not below BSM_ALERT_ROUTING_P1_PCT)', expected: 'a number 0-100', schema: percent, default: 80 }),
  BSM_ALERT_AUDIT_TAIL: setting({ description: 'audit-trail entries whose hash chain the alert evaluation verifies every minute (the newest ones)', expected: 'an integer 1-100000', schema: integer(1, 100_000), default: 1_000 }),
  BSM_LLM_HOURLY_SPEND_LIMIT_USD: setting({
    description: 'P1 (and an automatic-shutdown trigger) when the LLM spend of the last 60 minutes is above this many USD; unset: no limit',
    expected: 'a number > 0',
    schema: z
      .string()
      .trim()
      .regex(/^\d+(\.\d+)?$/)
      .transform(Number)
      .refine((v) => v > 0),
  }),
  BSM_AUTO_SHUTDOWN_TRIGGERS: setting({
    description: 'which alerts shut support mode down by themselves while the auto-emergency-shutdown flag is on: error-rate, consecutive-failures, llm-spend (comma-separated)',
    expected: `comma-separated names among ${autoShutdownTriggers.join(', ')}`,
    schema: z
      .string()
      .trim()
      .transform((v) => [...new Set(v.split(',').map((x) => x.trim()))])
      .pipe(z.array(z.enum(autoShutdownTriggers)).min(1)),
    default: [...autoShutdownTriggers],
  }),
  BSM_ARCHIVE_URL: setting({
    description: 'the primary audit-trail archive destination (named `default`; the signed checkpoints live there): file://<path> (relative paths from the working directory) or s3://<bucket>/<prefix>',
    expected: 'a file:// URL or s3://<bucket>/<prefix>',
    schema: archiveUrl,
    default: 'file://./data/archive',
  }),
  BSM_ARCHIVE_DESTINATIONS: setting({
    description: 'further audit-trail archive destinations an archive request may name, comma-separated name=url pairs (file:// or s3://); `default` is BSM_ARCHIVE_URL',
    expected: 'name=url[,name=url...] with names of letters, digits, "-" or "_" (not "default"), each url file:// or s3://<bucket>/<prefix>, no name or url twice',
    schema: z
      .string()
      .trim()
      .transform((v) => v.split(',').map((pair) => pair.trim()))
      .pipe(
        z
          .array(
            z
              .string()
              .regex(/^[A-Za-z0-9_-]{1,64}=.+$/)
              .transform((pair) => ({ name: pair.slice(0, pair.indexOf('=')), url: pair.slice(pair.indexOf('=') + 1) }))
              .pipe(z.object({ name: z.string().refine((n) => n !== 'default'), url: archiveUrl })),
          )
          .min(1)
          .refine((all) => new Set(all.map((d) => d.name)).size === all.length && new Set(all.map((d) => d.url)).size === all.length),
      ),
  }),
  BSM_ARCHIVE_S3_FORCE_PATH_STYLE: setting({
    description: 'path-style S3 requests (endpoint/bucket/key) for s3:// archive destinations, as most S3-compatible stores behind AWS_ENDPOINT_URL_S3 want; virtual-host style (bucket.endpoint/key) when false',
    expected: 'true or false',
    schema: bool,
    default: false,
  }),
  LOG_LEVEL: setting({ description: 'pino level', expected: logLevels.join(', '), schema: z.enum(logLevels), default: 'info' }),
  BSM_SHUTDOWN_GRACE_MS: setting({
    description: 'how long running jobs may take to finish on SIGTERM before they are cancelled',
    expected: 'an integer 0-600000',
    schema: integer(0, 600_000),
    default: 10_000,
  }),
  BSM_CANCEL_WAIT_MS: setting({
    description: 'on SIGTERM, how long cancelled jobs may take to be handed back to waiting before the process exits anyway (their locks then expire and another worker takes them)',
    expected: 'an integer 100-120000',
    schema: integer(100, 120_000),
    default: 5_000,
  }),
  BSM_LOCK_DURATION_MS: setting({
    description: "how long a worker's lock on a running job lasts without renewal: the longest a job of a killed worker stays active before the stalled check may return it",
    expected: 'an integer 5000-600000',
    schema: integer(5_000, 600_000),
    default: 30_000,
  }),
  BSM_STALLED_INTERVAL_MS: setting({
    description: 'how often each worker looks for active jobs whose lock expired (a killed worker\'s jobs) and returns them to waiting',
    expected: 'an integer 1000-600000',
    schema: integer(1_000, 600_000),
    default: 30_000,
  }),
  BSM_REDIS_PORT: setting({
    description: 'the local port tried when REDIS_URL is not set, and where `bsm all` starts its own redis-server when nothing answers there',
    expected: 'an integer 1-65535',
    schema: integer(1, 65_535),
    default: 6379,
  }),
  BSM_ATTEMPTS: setting({ description: 'attempts per job before it fails', expected: 'an integer 1-50', schema: integer(1, 50), default: 3 }),
  BSM_BACKOFF_MS: setting({ description: 'first retry delay; doubles on each attempt', expected: 'an integer 0-3600000', schema: integer(0, 3_600_000), default: 2_000 }),
  BSM_KEEP_COMPLETED_HOURS: setting({ description: 'how long completed jobs are kept', expected: 'an integer 1-8760', schema: integer(1, 8760), default: 72 }),
  BSM_KEEP_COMPLETED_COUNT: setting({ description: 'at most this many completed jobs kept per queue', expected: 'an integer 1-1000000', schema: integer(1, 1_000_000), default: 5_000 }),
  BSM_KEEP_FAILED_HOURS: setting({ description: 'how long failed jobs are kept', expected: 'an integer 1-8760', schema: integer(1, 8760), default: 24 * 14 }),
  BSM_KEEP_FAILED_COUNT: setting({ description: 'at most this many failed jobs kept per queue', expected: 'an integer 1-1000000', schema: integer(1, 1_000_000), default: 10_000 }),
  BSM_SCHEDULE_DAILY_CHECK: setting({ description: 'morning support mode check (UTC)', expected: 'a valid 5-field cron pattern (minute hour day-of-month month day-of-week)', schema: cron, default: '15 8 * * *' }),
  BSM_SCHEDULE_WEEKLY_REVIEW: setting({ description: 'weekly support mode review (UTC)', expected: 'a valid 5-field cron pattern (minute hour day-of-month month day-of-week)', schema: cron, default: '30 10 * * 0' }),
  BSM_SCHEDULE_INFRA_AUDIT: setting({ description: 'incremental infrastructure audit (UTC)', expected: 'a valid 5-field cron pattern (minute hour day-of-month month day-of-week)', schema: cron, default: '*/30 * * * *' }),
  BSM_SCHEDULE_META_MONITOR: setting({ description: 'meta-monitor execution analysis (UTC)', expected: 'a valid 5-field cron pattern (minute hour day-of-month month day-of-week)', schema: cron, default: '*/5 * * * *' }),
  BSM_SCHEDULE_COMPLIANCE_CHECK: setting({ description: 'daily compliance check (UTC)', expected: 'a valid 5-field cron pattern (minute hour day-of-month month day-of-week)', schema: cron, default: '0 6 * * *' }),
  BSM_SCHEDULE_COMPLIANCE_REPORT: setting({ description: 'weekly compliance report, kept for GET …/compliance/export (UTC; Sunday, after the daily check)', expected: 'a valid 5-field cron pattern (minute hour day-of-month month day-of-week)', schema: cron, default: '0 7 * * 0' }),
  BSM_SCHEDULE_CHECKPOINT: setting({ description: 'signed audit-trail checkpoint written to the archive (UTC); skipped when nothing was appended since the last', expected: 'a valid 5-field cron pattern (minute hour day-of-month month day-of-week)', schema: cron, default: '0 * * * *' }),
  BSM_SCHEDULE_ARCHIVE: setting({ description: 'daily audit-trail archive (UTC)', expected: 'a valid 5-field cron pattern (minute hour day-of-month month day-of-week)', schema: cron, default: '30 2 * * *' }),
  BSM_SCHEDULE_ALERTS: setting({ description: 'alert evaluation (UTC)', expected: 'a valid 5-field cron pattern (minute hour day-of-month month day-of-week)', schema: cron, default: '* * * * *' }),
  BSM_SCHEDULE_CLOUDWATCH: setting({
    description: 'CloudWatch metrics publication (UTC), declared only with CLOUDWATCH_ENABLED=true; each run sends the time since the previous one',
    expected: 'a valid 5-field cron pattern (minute hour day-of-month month day-of-week)',
    schema: cron,
    default: '* * * * *',
  }),
  MCP_TOOL_NAME: setting({ description: 'the MCP tool the MCP path calls', expected: 'a tool name', schema: z.string().trim().min(1).max(200), default: 'ask' }),
  MCP_TOOL_ARGUMENTS: setting({
    description: 'how a request maps onto the tool\'s arguments: prompt=<arg>[,system=<arg>][,operation=<arg>][,maxTokens=<arg>]',
    expected: 'comma-separated role=argument pairs with a prompt entry, roles prompt, system, operation, maxTokens',
    schema: z
      .string()
      .trim()
      .regex(/^(prompt|system|operation|maxTokens)=[A-Za-z0-9_.-]+(,(prompt|system|operation|maxTokens)=[A-Za-z0-9_.-]+)*$/)
      .refine((v) => v.split(',').some((e) => e.startsWith('prompt='))),
    default: 'prompt=prompt,system=system',
  }),
  MCP_MODEL: setting({ description: 'model name the MCP path reports, for pricing (default mcp:<tool>)', expected: 'a model id', schema: z.string().trim().min(1) }),
  BSM_ROUTING_MATRIX: setting({
    description: 'overrides of the routing matrix: operation=primary/fallback/budgetMs, e.g. standard=direct/mcp/20000',
    expected: 'comma-separated operation=primary/fallback/budgetMs entries',
    schema: z.string().trim(),
  }),
  BSM_LLM_DAILY_BUDGET_USD: setting({ description: 'daily LLM budget in USD (0: unlimited); at 100% direct calls are refused', expected: 'a number >= 0', schema: z.string().trim().regex(/^\d+(\.\d+)?$/).transform(Number), default: 0 }),
  BSM_LLM_MONTHLY_BUDGET_USD: setting({ description: 'monthly LLM budget in USD (0: unlimited)', expected: 'a number >= 0', schema: z.string().trim().regex(/^\d+(\.\d+)?$/).transform(Number), default: 0 }),
  BSM_LLM_PRICES: setting({
    description: 'extra model prices, USD per 1000 input/output tokens: model=in/out[,model=in/out]',
    expected: 'comma-separated model=input/output pairs, e.g. my-model=0.003/0.015',
    schema: z
      .string()
      .trim()
      .regex(/^[^=,\s]+=\d+(\.\d+)?\/\d+(\.\d+)?(,[^=,\s]+=\d+(\.\d+)?\/\d+(\.\d+)?)*$/)
      .transform((v) =>
        Object.fromEntries(
          v.split(',').map((e) => {
            const [model, price] = e.split('=') as [string, string];
            const [i, o] = price.split('/').map(Number) as [number, number];
            return [model, { inputPer1k: i, outputPer1k: o }];
          }),
        ),
      ),
  }),
  BSM_ALLOW_NON_EU_REGION: setting({ description: 'allow LLM calls to a region outside the EU allow-list (leaves EU data residency)', expected: 'true or false', schema: bool, default: false }),
  BSM_EXTRA_ALLOWED_REGIONS: setting({
    description: 'regions allowed besides the EU list, comma-separated',
    expected: 'comma-separated AWS regions',
    schema: z
      .string()
      .trim()
      .regex(/^[a-z]{2}(-gov)?-[a-z]+-\d(,[a-z]{2}(-gov)?-[a-z]+-\d)*$/)
      .transform((v) => v.split(',')),
  }),
  BSM_LLM_FALLBACK_RESERVE: setting({
    description: 'share of the latency budget kept for the fallback: the primary is cut after (1 - this) of the budget when a fallback can answer; 0 gives the primary the whole budget',
    expected: 'a number 0-0.9',
    schema: z
      .string()
      .trim()
      .regex(/^(0(\.\d+)?|\.\d+)$/)
      .transform(Number)
      .refine((v) => v <= 0.9),
    default: 0.3,
  }),
  BSM_LLM_THROTTLE_BACKOFF_MS: setting({
    description: 'how long a queue backs off when the LLM throttles without saying for how long; each throttle in a row doubles it, up to BSM_LLM_THROTTLE_BACKOFF_MAX_MS',
    expected: 'an integer 100-600000',
    schema: integer(100, 600_000),
    default: 1_000,
  }),
  BSM_LLM_THROTTLE_BACKOFF_MAX_MS: setting({ description: 'the longest throttling back-off (a completed job brings it back to BSM_LLM_THROTTLE_BACKOFF_MS)', expected: 'an integer 100-3600000', schema: integer(100, 3_600_000), default: 30_000 }),
  BSM_RETENTION_LIMIT_HOURS: setting({
    description: 'the longest the daily compliance check accepts for keeping job data (completed or failed jobs)',
    expected: 'an integer 1-87600',
    schema: integer(1, 87_600),
    default: 24 * 90,
  }),
  BSM_ANALYSIS_PARTS: setting({
    description: "parts an analysis of the agent's executions is split into, each a child job of a BullMQ flow on the meta-monitor queue (any worker takes one), merged by the analysis job; 1: one worker reads the whole window",
    expected: 'an integer 1-64',
    schema: integer(1, 64),
    default: 1,
  }),
  BSM_EXECUTION_RETENTION_DAYS: setting({ description: 'execution records posted to the meta-monitor are deleted this many days after their hour', expected: 'an integer 1-3650', schema: integer(1, 3650), default: 14 }),
  BSM_INGEST_BODY_LIMIT_BYTES: setting({
    description: 'largest body of POST /admin/bedrock-support/meta-monitor/executions (every other route keeps 64 KB)',
    expected: 'an integer 65536-268435456',
    schema: integer(65_536, 268_435_456),
    default: 16 * 1024 * 1024,
  }),
  BSM_OTEL_AGENT_SERVICES: setting({
    description: 'service.name values (comma-separated) whose root spans POST /v1/traces stores as executions of the agent even without GenAI attributes',
    expected: 'comma-separated service names',
    schema: z
      .string()
      .trim()
      .transform((v) => [...new Set(v.split(',').map((x) => x.trim()).filter((x) => x !== ''))]),
    default: [],
  }),
  BSM_HMAC_KEY: setting({
    description: 'the secret that keys the HMAC replacing user ids in stored records; when unset, one is generated in BSM_DATA_DIR/hmac-key (mode 0600) and kept',
    expected: 'at least 32 characters',
    schema: z.string().trim().min(32),
  }),
  BSM_AUDIT_SIGNING_KEY: setting({
    description:
      'the Ed25519 private key that signs audit-trail checkpoints and archive manifests (PEM, or the base64 of its PKCS#8 DER on one line): needed by the workers that run the compliance queue; `bsm all` without it generates one in BSM_DATA_DIR/audit-signing-key.pem (mode 0600) and keeps it. Never stored in Redis',
    expected: 'an Ed25519 private key, PEM or base64 PKCS#8 (openssl genpkey -algorithm ed25519)',
    secret: true,
    schema: z
      .string()
      .trim()
      .min(1)
      .refine((v) => {
        try {
          parseSigningKey(v);
          return true;
        } catch {
          return false;
        }
      }),
  }),
  BSM_ARCHIVE_AFTER_DAYS: setting({ description: 'audit-trail records older than this are archived', expected: 'an integer 1-3650', schema: integer(1, 3650), default: 90 }),
  BSM_TWO_PERSON_RULE: setting({ description: 'two-person rule: an action that waits for approval is approved by another key than the one that requested it; false lifts it for one-person installs (every approval then records that it was off)', expected: 'true or false', schema: bool, default: true }),
  BSM_ASSIST_RATE_MAX: setting({
    description: 'questions one API key may ask the operator (POST /admin/bedrock-support/assist, and a gap guidance narrative not in the cache) per BSM_ASSIST_RATE_WINDOW_MS; 0: no limit',
    expected: 'an integer 0-100000',
    schema: integer(0, 100_000),
    default: 30,
  }),
  BSM_ASSIST_RATE_WINDOW_MS: setting({ description: 'the window of BSM_ASSIST_RATE_MAX', expected: 'an integer 1000-86400000', schema: integer(1_000, 86_400_000), default: 60_000 }),
  BSM_FLEET_SNAPSHOT_MS: setting({
    description: 'how long one read of the fleet (queue counts, workers, health signals) serves health and status requests; 0: no reuse, concurrent requests still share one read',
    expected: 'an integer 0-60000',
    schema: integer(0, 60_000),
    default: 1_000,
  }),
};

/** Per-queue settings: `BSM_<QUEUE>_CONCURRENCY`, `BSM_<QUEUE>_RATE_MAX`, `BSM_<QUEUE>_RATE_DURATION_MS`. */
const queueDefaults: Record<QueueName, { concurrency: number; rateMax: number; rateDurationMs: number }> = {
  'bedrock-support': { concurrency: 2, rateMax: 60, rateDurationMs: 60_000 },
  'infrastructure-auditor': { concurrency: 2, rateMax: 30, rateDurationMs: 60_000 },
  'meta-monitor': { concurrency: 2, rateMax: 60, rateDurationMs: 60_000 },
  'implementation-support': { concurrency: 2, rateMax: 30, rateDurationMs: 60_000 },
  compliance: { concurrency: 1, rateMax: 30, rateDurationMs: 60_000 },
};

export function queueEnvName(queue: QueueName, suffix: string): string {
  return `BSM_${queue.toUpperCase().replace(/-/g, '_')}_${suffix}`;
}

export interface QueueSettings {
  /** Jobs one worker process runs at once. */
  concurrency: number;
  /** At most `max` jobs start per `durationMs` across every worker of the queue. */
  rateLimit: { max: number; durationMs: number };
}

type Settings = typeof settings;
type SettingValue<K extends keyof Settings> = Settings[K] extends Setting<infer T> ? T : never;
type WithDefault<K extends keyof Settings> = Settings[K] extends { default: unknown } ? K : never;
type DefaultedKeys = { [K in keyof Settings]: WithDefault<K> }[keyof Settings];

/** The parsed configuration. Settings without a default are `undefined` when unset. */
export type Config = { [K in DefaultedKeys]: SettingValue<K> } & {
  [K in Exclude<keyof Settings, DefaultedKeys>]: SettingValue<K> | undefined;
} & {
  queues: Record<QueueName, QueueSettings>;
  /** The routing matrix: defaults with `BSM_ROUTING_MATRIX` applied. */
  routingMatrix: RoutingMatrix;
};

function parseOne<T>(name: string, s: Setting<T>, raw: string | undefined): T | undefined {
  if (raw === undefined || raw.trim() === '') {
    return s.default;
  }
  const result = s.schema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(`${name} must be ${s.expected}, got ${s.secret ? `a value of ${raw.length} characters (not shown: it is a secret)` : JSON.stringify(raw)}`);
  }
  return result.data;
}

/** Parses the environment. Throws {@link ConfigError} naming the first bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(settings) as [string, Setting<unknown>][]) {
    out[name] = parseOne(name, s, env[name]);
  }
  const queues = {} as Record<QueueName, QueueSettings>;
  for (const q of queueNames) {
    const d = queueDefaults[q];
    const concurrency = parseOne(queueEnvName(q, 'CONCURRENCY'), setting({ description: '', expected: 'an integer 1-100', schema: integer(1, 100) }), env[queueEnvName(q, 'CONCURRENCY')]);
    const rateMax = parseOne(queueEnvName(q, 'RATE_MAX'), setting({ description: '', expected: 'an integer 1-100000', schema: integer(1, 100_000) }), env[queueEnvName(q, 'RATE_MAX')]);
    const rateDurationMs = parseOne(
      queueEnvName(q, 'RATE_DURATION_MS'),
      setting({ description: '', expected: 'an integer 1-86400000', schema: integer(1, 86_400_000) }),
      env[queueEnvName(q, 'RATE_DURATION_MS')],
    );
    queues[q] = {
      concurrency: concurrency ?? d.concurrency,
      rateLimit: { max: rateMax ?? d.rateMax, durationMs: rateDurationMs ?? d.rateDurationMs },
    };
  }
  out.queues = queues;
  // Thresholds that only make sense in order: one line naming the pair.
  for (const [lower, higher, what] of [
    ['BSM_ALERT_DEGRADATION_P2_PCT', 'BSM_ALERT_DEGRADATION_P1_PCT', 'the P2 degradation must be below the P1 one'],
    ['BSM_ALERT_ROUTING_P1_PCT', 'BSM_ALERT_ROUTING_P2_PCT', 'the P1 routing efficiency must be below the P2 one'],
  ] as const) {
    if (!((out[lower] as number) < (out[higher] as number))) {
      throw new ConfigError(`${lower} must be below ${higher} (${what}), got ${String(out[lower])} and ${String(out[higher])}`);
    }
  }
  if (typeof out.BSM_ROUTING_MATRIX === 'string') {
    try {
      out.routingMatrix = parseRoutingOverrides(out.BSM_ROUTING_MATRIX);
    } catch (err) {
      throw new ConfigError(`BSM_ROUTING_MATRIX: ${(err as Error).message}`);
    }
  } else {
    out.routingMatrix = defaultRoutingMatrix;
  }
  return out as Config;
}

/**
 * The settings given in `env` that nothing reads yet, each with the capability that will,
 * so start-up can say so instead of silently ignoring them.
 */
export function settingsNotUsedYet(env: Env = process.env): { name: string; usedBy: string }[] {
  return Object.entries(settings as Record<string, Setting<unknown>>)
    .filter(([name, s]) => s.notUsedYet !== undefined && (env[name] ?? '').trim() !== '')
    .map(([name, s]) => ({ name, usedBy: s.notUsedYet ?? '' }));
}

/** The key prefix every Redis key and queue uses: a hash tag, so one install's keys share a Cluster slot. */
export function keyPrefix(config: Pick<Config, 'BSM_PREFIX'>): string {
  return `{${config.BSM_PREFIX}}`;
}
