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
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL must be a redis:// or rediss:// URL, got "http://x"'],
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
  ])('rejects %o with a line naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('names the settings that are set but not read by anything yet, and only those', () => {
    expect(settingsNotUsedYet({})).toEqual([]);
    expect(settingsNotUsedYet({ CLOUDWATCH_ENABLED: 'true', ALERT_WEBHOOK_URL: 'https://hooks.example/x', BSM_INVENTORY: ' ', PORT: '3000' })).toEqual([
      { name: 'CLOUDWATCH_ENABLED', usedBy: 'observability' },
      { name: 'ALERT_WEBHOOK_URL', usedBy: 'observability' },
    ]);
    // Read now: the auditor's inventory.
    expect(settingsNotUsedYet({ BSM_INVENTORY: './inventory.yaml' })).toEqual([]);
  });
});
