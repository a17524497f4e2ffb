import { describe, expect, it } from 'vitest';
import { ConfigError, keyPrefix, loadConfig, settingsNotUsedYet } from '../../src/config.js';

describe('configuration', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(3000);
    expect(c.BSM_PREFIX).toBe('bsm');
    expect(c.BEDROCK_MODEL_ID).toBe('anthropic.claude-3-sonnet-20240229-v1:0');
    expect(c.AWS_REGION).toBe('eu-central-1');
    expect(c.REDIS_URL).toBeUndefined();
    expect(c.BSM_SCHEDULE_DAILY_CHECK).toBe('15 8 * * *');
    expect(c.BSM_SCHEDULE_WEEKLY_REVIEW).toBe('30 10 * * 0');
    expect(c.queues['meta-monitor']).toEqual({ concurrency: 2, rateLimit: { max: 60, durationMs: 60_000 } });
    expect(keyPrefix(c)).toBe('{bsm}');
    expect(c.BSM_LLM_FALLBACK_RESERVE).toBe(0.3);
    expect([c.CLOUDWATCH_ENABLED, c.BSM_SCHEDULE_CLOUDWATCH]).toEqual([false, '* * * * *']);
  });

  it('alerts: the runbook\'s thresholds and escalation delays by default, no webhook, no spend limit', () => {
    const c = loadConfig({});
    expect([c.ALERT_WEBHOOK_URL, c.ALERT_ESCALATION_WEBHOOK_URL, c.BSM_LLM_HOURLY_SPEND_LIMIT_USD]).toEqual([undefined, undefined, undefined]);
    expect([c.BSM_ALERT_ESCALATE_P0_MS, c.BSM_ALERT_ESCALATE_P1_MS, c.BSM_ALERT_ESCALATE_P2_MS]).toEqual([15 * 60_000, 30 * 60_000, 60 * 60_000]);
    expect([c.BSM_ALERT_ERROR_RATE_PCT, c.BSM_ALERT_MIN_SAMPLES, c.BSM_ALERT_CONSECUTIVE_FAILURES]).toEqual([10, 20, 5]);
    expect([c.BSM_ALERT_DEGRADATION_P2_PCT, c.BSM_ALERT_DEGRADATION_P1_PCT, c.BSM_ALERT_ROUTING_P1_PCT, c.BSM_ALERT_ROUTING_P2_PCT]).toEqual([20, 50, 60, 80]);
    expect([c.BSM_ALERT_WEBHOOK_FORMAT, c.BSM_ALERT_NOTIFY_ATTEMPTS, c.BSM_ALERT_NOTIFY_BACKOFF_MS, c.BSM_ALERT_AUDIT_TAIL]).toEqual(['slack', 10, 7_000, 1_000]);
    expect(c.BSM_AUTO_SHUTDOWN_TRIGGERS).toEqual(['error-rate', 'consecutive-failures', 'llm-spend']);
    // Ten attempts, the first retry after 7 s and each later one doubling: about an hour in all.
    const spanS = Array.from({ length: c.BSM_ALERT_NOTIFY_ATTEMPTS - 1 }, (_, i) => (c.BSM_ALERT_NOTIFY_BACKOFF_MS * 2 ** i) / 1000).reduce((a, b) => a + b, 0);
    expect(spanS).toBeGreaterThan(55 * 60);
    expect(spanS).toBeLessThan(65 * 60);
    expect(loadConfig({ BSM_AUTO_SHUTDOWN_TRIGGERS: ' llm-spend , error-rate,llm-spend' }).BSM_AUTO_SHUTDOWN_TRIGGERS).toEqual(['llm-spend', 'error-rate']);
    expect(c.BSM_OTEL_AGENT_SERVICES).toEqual([]);
    expect(loadConfig({ BSM_OTEL_AGENT_SERVICES: ' kiro , kiro,,planner ' }).BSM_OTEL_AGENT_SERVICES).toEqual(['kiro', 'planner']);
  });

  it('parses values', () => {
    const c = loadConfig({ PORT: '8080', BEDROCK_ENABLED: 'true', BSM_META_MONITOR_CONCURRENCY: '7', BSM_COMPLIANCE_RATE_MAX: '3' });
    expect(c.PORT).toBe(8080);
    expect(c.BEDROCK_ENABLED).toBe(true);
    expect(c.queues['meta-monitor'].concurrency).toBe(7);
    expect(c.queues.compliance.rateLimit.max).toBe(3);
    expect(loadConfig({ BSM_LLM_FALLBACK_RESERVE: '0' }).BSM_LLM_FALLBACK_RESERVE).toBe(0);
    expect(loadConfig({ BSM_LLM_FALLBACK_RESERVE: '0.5' }).BSM_LLM_FALLBACK_RESERVE).toBe(0.5);
    expect(loadConfig({}).BSM_PUBLIC_URL).toBeUndefined();
    expect(loadConfig({ BSM_PUBLIC_URL: ' https://bsm.example.com ' }).BSM_PUBLIC_URL).toBe('https://bsm.example.com');
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT must be an integer 1-65535, got "abc"'],
    [{ PORT: '70000' }, 'PORT must be an integer 1-65535, got "70000"'],
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL must be a redis:// or rediss:// URL, or redis+cluster://host:port,host:port, got "http://x"'],
    [{ BEDROCK_ENABLED: 'maybe' }, 'BEDROCK_ENABLED must be true or false, got "maybe"'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL must be fatal, error, warn, info, debug, trace, silent, got "loud"'],
    [{ BSM_SCHEDULE_DAILY_CHECK: '15 8 *' }, 'BSM_SCHEDULE_DAILY_CHECK must be a valid 5-field cron pattern (minute hour day-of-month month day-of-week), got "15 8 *"'],
    [{ BSM_SCHEDULE_ALERTS: '99 99 * * *' }, 'BSM_SCHEDULE_ALERTS must be a valid 5-field cron pattern (minute hour day-of-month month day-of-week), got "99 99 * * *"'],
    [{ HOST: 'bad host!' }, 'HOST must be a host name or IP address, got "bad host!"'],
    [{ BSM_META_MONITOR_CONCURRENCY: '0' }, 'BSM_META_MONITOR_CONCURRENCY must be an integer 1-100, got "0"'],
    [{ BSM_SCHEDULE_CHECKPOINT: 'hourly' }, 'BSM_SCHEDULE_CHECKPOINT must be a valid 5-field cron pattern (minute hour day-of-month month day-of-week), got "hourly"'],
    // A key is a secret: a bad one is described by its length, never echoed.
    [{ BSM_AUDIT_SIGNING_KEY: 'MC4CAQAwBQYDK2VwBCIEIsecret' }, 'BSM_AUDIT_SIGNING_KEY must be an Ed25519 private key, PEM or base64 PKCS#8 (openssl genpkey -algorithm ed25519), got a value of 27 characters (not shown: it is a secret)'],
    [{ BSM_ARCHIVE_URL: 's3://bucket/audit' }, 'BSM_ARCHIVE_URL must be a file:// URL (s3:// is not supported yet), got "s3://bucket/audit"'],
    [{ BSM_LLM_FALLBACK_RESERVE: '0.95' }, 'BSM_LLM_FALLBACK_RESERVE must be a number 0-0.9, got "0.95"'],
    [{ BSM_LLM_FALLBACK_RESERVE: '1' }, 'BSM_LLM_FALLBACK_RESERVE must be a number 0-0.9, got "1"'],
    [{ BSM_PREFIX: 'a b' }, 'BSM_PREFIX must be letters, digits, "-" or "_" (1-64 characters), got "a b"'],
    [{ BSM_PUBLIC_URL: 'bsm.example.com' }, 'BSM_PUBLIC_URL must be an http:// or https:// URL, the address browsers reach the service at (e.g. https://bsm.example.com), got "bsm.example.com"'],
    [{ BSM_PUBLIC_URL: 'ftp://bsm.example.com' }, 'BSM_PUBLIC_URL must be an http:// or https:// URL, the address browsers reach the service at (e.g. https://bsm.example.com), got "ftp://bsm.example.com"'],
    [{ BSM_ALERT_WEBHOOK_FORMAT: 'xml' }, 'BSM_ALERT_WEBHOOK_FORMAT must be slack or json, got "xml"'],
    [{ BSM_AUTO_SHUTDOWN_TRIGGERS: 'error-rate,reboot' }, 'BSM_AUTO_SHUTDOWN_TRIGGERS must be comma-separated names among error-rate, consecutive-failures, llm-spend, got "error-rate,reboot"'],
    [{ BSM_LLM_HOURLY_SPEND_LIMIT_USD: '0' }, 'BSM_LLM_HOURLY_SPEND_LIMIT_USD must be a number > 0, got "0"'],
    [{ ALERT_ESCALATION_WEBHOOK_URL: 'hooks.example.com' }, 'ALERT_ESCALATION_WEBHOOK_URL must be an http:// or https:// URL, got "hooks.example.com"'],
    [
      { BSM_ALERT_ROUTING_P1_PCT: '80', BSM_ALERT_ROUTING_P2_PCT: '70' },
      'BSM_ALERT_ROUTING_P1_PCT must be below BSM_ALERT_ROUTING_P2_PCT (the P1 routing efficiency must be below the P2 one), got 80 and 70',
    ],
    [
      { BSM_ALERT_DEGRADATION_P2_PCT: '50' },
      'BSM_ALERT_DEGRADATION_P2_PCT must be below BSM_ALERT_DEGRADATION_P1_PCT (the P2 degradation must be below the P1 one), got 50 and 50',
    ],
  ])('rejects %o with a line naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('names the settings that are set but not read by anything yet, and only those', () => {
    expect(settingsNotUsedYet({})).toEqual([]);
    // Every setting is read now: none is reported as not used yet.
    expect(settingsNotUsedYet({ CLOUDWATCH_ENABLED: 'true', ALERT_WEBHOOK_URL: 'https://hooks.example/x', BSM_INVENTORY: ' ', PORT: '3000' })).toEqual([]);
  });
});
