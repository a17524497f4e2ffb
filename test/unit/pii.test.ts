import { describe, it, expect } from 'vitest';
import { detectPii, piiTypes, Redactor } from '../../src/domain/compliance/pii.js';
import type { PiiType } from '../../src/domain/compliance/pii.js';
import { findings, nestInArrays } from './pii-helpers.js';

interface Sample {
  type: PiiType;
  value: string;
  line: string;
}

const pem = [
  '-----BEGIN RSA PRIVATE KEY-----',
  'MIIEowIBAAKCAQEA7bq3x0GkXlYd3V8e4rV0m2b9mG7mJ0nYQ1n2q3c4d5e6f7g8',
  'h9i0j1k2l3m4n5o6p7q8r9s0t1u2v3w4x5y6z7A8B9C0D1E2F3G4H5I6J7K8L9M0',
  'contact=ops@example.com',
  '-----END RSA PRIVATE KEY-----',
].join('\n');

const jwt = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';

/** Realistic log lines and prompt fragments, each with exactly one finding. */
const corpus: Sample[] = [
  // E-mail
  { type: 'EMAIL', value: 'john.doe@example.com', line: 'INFO notify: sent digest to john.doe@example.com (3 items)' },
  { type: 'EMAIL', value: 'anna-lena.mueller+billing@kunde.example.de', line: 'customer <anna-lena.mueller+billing@kunde.example.de> opened ticket' },
  { type: 'EMAIL', value: 'ops_team@sub.example.co.uk', line: 'Escalate to ops_team@sub.example.co.uk.' },
  { type: 'EMAIL', value: 'first.last@example.org', line: '{"user":"first.last@example.org","role":"admin"}' },
  // Phone
  { type: 'PHONE', value: '+49 30 1234567', line: 'Rückruf an +49 30 1234567 erbeten' },
  { type: 'PHONE', value: '0049 (0)89 123456-78', line: 'Tel.: 0049 (0)89 123456-78, Fax folgt' },
  { type: 'PHONE', value: '030/1234567', line: 'Hotline 030/1234567 (Mo-Fr)' },
  { type: 'PHONE', value: '0171 1234567', line: 'mobil: 0171 1234567' },
  { type: 'PHONE', value: '0301234567', line: 'Festnetz 0301234567, bitte zurückrufen' },
  { type: 'PHONE', value: '015112345678', line: 'mobile=015112345678' },
  { type: 'PHONE', value: '+1 415 555 2671', line: 'US support line +1 415 555 2671 is down' },
  { type: 'PHONE', value: '+44 20 7946 0958', line: 'London office: +44 20 7946 0958.' },
  { type: 'PHONE', value: '+1 (415) 555-2671', line: 'caller_id="+1 (415) 555-2671"' },
  { type: 'PHONE', value: '(089) 12345678', line: 'Zentrale (089) 12345678 anrufen' },
  { type: 'PHONE', value: '+4915112345678', line: 'sms to=+4915112345678 status=queued' },
  // IBAN
  { type: 'IBAN', value: 'DE89370400440532013000', line: 'refund to IBAN DE89370400440532013000 pending' },
  { type: 'IBAN', value: 'GB82WEST12345698765432', line: 'payout account GB82WEST12345698765432' },
  { type: 'IBAN', value: 'DE89 3704 0044 0532 0130 00', line: 'Bitte überweisen an DE89 3704 0044 0532 0130 00 BIC COBADEFFXXX' },
  { type: 'IBAN', value: 'FR1420041010050500013M02606', line: 'iban=FR1420041010050500013M02606;' },
  { type: 'IBAN', value: 'NL91ABNA0417164300', line: 'SEPA mandate NL91ABNA0417164300 revoked' },
  { type: 'IBAN', value: 'ES91 2100 0418 4502 0005 1332', line: 'cuenta ES91 2100 0418 4502 0005 1332 CASH' },
  { type: 'IBAN', value: 'de89370400440532013000', line: 'typed in lower case: de89370400440532013000' },
  // Card
  { type: 'CARD', value: '4111111111111111', line: 'charge failed for card 4111111111111111: insufficient funds' },
  { type: 'CARD', value: '5500 0000 0000 0004', line: 'pan="5500 0000 0000 0004" exp=12/29' },
  { type: 'CARD', value: '378282246310005', line: 'amex 378282246310005 declined' },
  { type: 'CARD', value: '4111-1111-1111-1111', line: 'card: 4111-1111-1111-1111' },
  { type: 'CARD', value: '6011111111111117', line: 'Discover 6011111111111117 ok' },
  { type: 'CARD', value: '3782 822463 10005', line: 'Amex grouped 3782 822463 10005 stored' },
  { type: 'CARD', value: '2223003122003222', line: 'mc2 2223003122003222 authorised' },
  // SSN
  { type: 'SSN', value: '123-45-6789', line: 'applicant ssn 123-45-6789 verified' },
  { type: 'SSN', value: '078-05-1120', line: 'SSN: 078-05-1120' },
  // IPv4
  { type: 'IPV4', value: '10.0.0.12', line: 'ECONNREFUSED 10.0.0.12:6379' },
  { type: 'IPV4', value: '192.168.178.20', line: 'login from 192.168.178.20 accepted' },
  { type: 'IPV4', value: '203.0.113.7', line: 'X-Forwarded-For: 203.0.113.7' },
  // IPv6
  { type: 'IPV6', value: '2001:db8:85a3::8a2e:370:7334', line: 'client 2001:db8:85a3::8a2e:370:7334 connected' },
  { type: 'IPV6', value: '2001:0db8:85a3:0000:0000:8a2e:0370:7334', line: 'peer=2001:0db8:85a3:0000:0000:8a2e:0370:7334' },
  { type: 'IPV6', value: '::1', line: 'listening on [::1]:3000' },
  { type: 'IPV6', value: 'fe80::1ff:fe23:4567:890a', line: 'link-local fe80::1ff:fe23:4567:890a.' },
  { type: 'IPV6', value: '::ffff:192.0.2.128', line: 'mapped ::ffff:192.0.2.128 rejected' },
  // Secrets
  { type: 'AWS_ACCESS_KEY', value: 'AKIAIOSFODNN7EXAMPLE', line: 'Credential=AKIAIOSFODNN7EXAMPLE/20261126/eu-central-1/bedrock/aws4_request' },
  { type: 'AWS_ACCESS_KEY', value: 'ASIAY34FZKBOKMUTVV7A', line: 'assumed role, key ASIAY34FZKBOKMUTVV7A' },
  {
    type: 'AWS_SECRET_KEY',
    value: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    line: 'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  },
  {
    type: 'AWS_SECRET_KEY',
    value: 'je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY',
    line: '{"SecretAccessKey": "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"}',
  },
  { type: 'BEARER_TOKEN', value: jwt, line: `Authorization: Bearer ${jwt}` },
  { type: 'BEARER_TOKEN', value: 'sk_live_51HxYz9Q2kA7bC', line: 'curl -H "authorization: bearer sk_live_51HxYz9Q2kA7bC" https://api' },
  { type: 'BEARER_TOKEN', value: 'dXNlcjpwYXNzd29yZA==', line: 'Authorization: Basic dXNlcjpwYXNzd29yZA==' },
  { type: 'BEARER_TOKEN', value: 'abcdefghijklmnopqr', line: 'sent Bearer abcdefghijklmnopqr upstream' },
  { type: 'SECRET', value: 'hunter2', line: 'login failed: password=hunter2 user=bob' },
  { type: 'SECRET', value: 'sk-proj-4f9a8b7c6d5e', line: '{"api_key": "sk-proj-4f9a8b7c6d5e", "model": "gpt"}' },
  { type: 'PRIVATE_KEY', value: pem, line: `loaded key:\n${pem}\nfrom /etc/ssl/app.key` },
  {
    type: 'PRIVATE_KEY',
    value: '-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n-----END PRIVATE KEY-----',
    line: '{"private_key":"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n-----END PRIVATE KEY-----"}',
  },
];

/** Text that looks numeric or structured but holds no PII. */
const negatives = [
  'DE89370400440532013001 has a wrong IBAN check digit',
  'GB82 WEST 1234 5698 7654 33 is not a valid IBAN',
  // A lower-case digest that starts like a German IBAN and passes mod-97, but has no IBAN's length.
  'trace id de62eee65f53e9421ce50211670eae67 sampled',
  'card 4111111111111112 fails Luhn',
  'card 5500 0000 0000 0005 fails Luhn',
  'epoch ms 1764144900000 and ns 1764144900000000000',
  'job finished at 2026-11-26T08:15:00Z',
  'retry +1 2026-11-26T08:15:00Z',
  'retry +1 2026-11-26 08:15:00 scheduled',
  'job finished at 2026-11-26T08:15:00.123+01:00',
  'logged 2026-11-26 08:15:00,123 INFO worker started',
  'am 26.11.2026 um 12:30:45',
  'trace 550e8400-e29b-41d4-a716-446655440000 span 123e4567-e89b-12d3-a456-426614174000',
  'upgraded @aws-sdk/client-bedrock-runtime to 3.1164.0',
  'bullmq v1.2.3 and 10.4.0-rc.1 released',
  'redis at localhost:6379 and :6380',
  'took 1500ms (p99 2300 ms), retried 3 times',
  'job 4242 attempt 3 of 5, queue=compliance:daily id=1234567',
  'ssn-like 000-12-3456, 666-12-3456, 900-12-3456, 123-00-4567, 123-45-0000',
  '256.1.1.1 and 1.2.3 and 10.0.0 are not addresses',
  'std::vector<int> and Add::Face are not addresses',
  'mac 00:1a:2b:3c:4d:5e at 12:30:45',
  'use a Bearer token for authentication',
  'Authorization: required',
  'sha 0123456789abcdef0123456789abcdef01234567',
  'error 0x80070005, exit code 137, pid 31337',
  'PLZ 01067 Dresden, Hausnummer 12',
  'memory +12.5% over 24 h',
  'AKIAIOSFODNN7EXAMPLEX is too long for an access key id',
  'user@localhost has no domain',
];

describe('detectPii', () => {
  it.each(corpus)('finds $type $value', ({ type, value, line }) => {
    expect(findings(line)).toEqual([{ type, value }]);
  });

  it.each(negatives)('finds nothing in %j', (text) => {
    expect(detectPii(text)).toEqual([]);
  });

  it('reports offsets that slice to the value, in text order', () => {
    const text = 'mail a@example.com from 10.0.0.1 or call +49 30 1234567';
    const matches = detectPii(text);
    expect(matches).toEqual([
      { type: 'EMAIL', start: 5, end: 18, value: 'a@example.com' },
      { type: 'IPV4', start: 24, end: 32, value: '10.0.0.1' },
      { type: 'PHONE', start: 41, end: 55, value: '+49 30 1234567' },
    ]);
  });

  it('reports offsets that slice to the value for every finding in a document of all samples', () => {
    const text = corpus.map((s) => s.line).join('\n');
    const matches = detectPii(text);
    expect(matches.map((m) => text.slice(m.start, m.end))).toEqual(corpus.map((s) => s.value));
    expect(matches.map((m) => m.value)).toEqual(corpus.map((s) => s.value));
  });

  it('keeps one finding where detectors overlap: the key block wins over what is inside it', () => {
    expect(detectPii(pem).map((m) => m.type)).toEqual(['PRIVATE_KEY']);
  });

  it('reports an IPv6 address with an embedded IPv4 once, as IPv6', () => {
    expect(findings('via ::ffff:10.1.2.3 now')).toEqual([{ type: 'IPV6', value: '::ffff:10.1.2.3' }]);
  });

  it('redacts only the token after Bearer, not the scheme', () => {
    expect(new Redactor().redact(`Authorization: Bearer ${jwt}`)).toBe('Authorization: Bearer [BEARER_TOKEN_1]');
  });

  it('reports a four-part version string as IPv4 (documented limitation)', () => {
    expect(detectPii('build 1.2.3.4').map((m) => m.type)).toEqual(['IPV4']);
    expect(detectPii('build v1.2.3.4')).toEqual([]);
  });

  it('redacts a truncated key block whose END line is missing', () => {
    const text = 'key: -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49\n(truncated)';
    expect(new Redactor().redact(text)).toBe('key: [PRIVATE_KEY_1]\n(truncated)');
  });

  it('splits two numbers written in a row', () => {
    expect(detectPii('+49 30 1234567 0049 89 1234567').map((m) => m.value)).toEqual(['+49 30 1234567', '0049 89 1234567']);
    expect(detectPii('030 1234567 0171 7654321').map((m) => m.value)).toEqual(['030 1234567', '0171 7654321']);
  });

  it('finds a card next to other numbers in the same run', () => {
    expect(detectPii('4111 1111 1111 1111 2029').map((m) => m.value)).toEqual(['4111 1111 1111 1111']);
    expect(detectPii('year 2024 4111 1111 1111 1111').map((m) => m.value)).toEqual(['4111 1111 1111 1111']);
  });

  it('scans a 200 KB input with adversarial runs and still finds what is in it', () => {
    // A pattern that backtracks catastrophically would not finish within the test timeout.
    const filler = ['1'.repeat(50_000), 'a.'.repeat(25_000), '1 '.repeat(25_000), 'x@' + 'a.'.repeat(20_000), '1:'.repeat(20_000)].join(' ');
    const text = `${filler} tail john.doe@example.com`;
    expect(new Redactor().redact(text)).toBe(`${filler} tail [EMAIL_1]`);
  });
});

describe('piiTypes', () => {
  it.each(corpus)('gives $type its own placeholder prefix, which restore recognises', ({ type, value, line }) => {
    const redactor = new Redactor();
    const redacted = redactor.redact(line);
    expect(redacted).toBe(line.replace(value, `[${type}_1]`));
    expect(redactor.restore(redacted)).toBe(line);
  });

  it('is covered by the corpus', () => {
    expect(new Set(corpus.map((s) => s.type))).toEqual(new Set(piiTypes));
  });
});

describe('Redactor', () => {
  const document = corpus.map((s) => s.line).join('\n');

  it('removes every original value from a document of all samples', () => {
    const redactor = new Redactor();
    const redacted = redactor.redact(document);
    for (const { value } of corpus) {
      expect(redacted).not.toContain(value);
    }
    const placeholders = redacted.match(/\[[A-Z0-9_]+_\d+\]/g) ?? [];
    expect(placeholders).toHaveLength(corpus.length);
    for (const p of placeholders) {
      expect(p).toMatch(new RegExp(`^\\[(?:${piiTypes.join('|')})_\\d+\\]$`));
    }
  });

  it('counts findings by type', () => {
    const redactor = new Redactor();
    redactor.redact(document);
    const expected: Partial<Record<PiiType, number>> = {};
    for (const { type } of corpus) {
      expected[type] = (expected[type] ?? 0) + 1;
    }
    expect(redactor.counts).toEqual(expected);
    expect(redactor.counts).toEqual({
      EMAIL: 4,
      PHONE: 11,
      IBAN: 7,
      CARD: 7,
      SSN: 2,
      IPV4: 3,
      IPV6: 5,
      AWS_ACCESS_KEY: 2,
      AWS_SECRET_KEY: 2,
      BEARER_TOKEN: 4,
      SECRET: 2,
      PRIVATE_KEY: 2,
    });
  });

  it('restores the original document exactly', () => {
    const redactor = new Redactor();
    expect(redactor.restore(redactor.redact(document))).toBe(document);
  });

  it('writes typed, numbered placeholders', () => {
    const redactor = new Redactor();
    expect(redactor.redact('IBAN DE89370400440532013000, mail a@example.com, IBAN GB82WEST12345698765432')).toBe(
      'IBAN [IBAN_1], mail [EMAIL_1], IBAN [IBAN_2]',
    );
  });

  it('gives the same value the same placeholder, across calls, and counts every occurrence', () => {
    const redactor = new Redactor();
    expect(redactor.redact('from a@example.com to b@example.com cc a@example.com')).toBe(
      'from [EMAIL_1] to [EMAIL_2] cc [EMAIL_1]',
    );
    expect(redactor.redact('reply to b@example.com and c@example.com')).toBe('reply to [EMAIL_2] and [EMAIL_3]');
    expect(redactor.counts).toEqual({ EMAIL: 5 });
  });

  it('numbers each redactor on its own', () => {
    const first = new Redactor();
    first.redact('a@example.com b@example.com');
    expect(new Redactor().redact('b@example.com')).toBe('[EMAIL_1]');
  });

  it('leaves already-redacted text unchanged', () => {
    const redactor = new Redactor();
    const once = redactor.redact(document);
    const countsAfterOnce = redactor.counts;
    expect(redactor.redact(once)).toBe(once);
    expect(redactor.counts).toEqual(countsAfterOnce);
    const everyPlaceholder = piiTypes.map((t) => `[${t}_1] x [${t}_12]\n${t.toLowerCase()}=[${t}_3]`).join(' ');
    expect(new Redactor().redact(everyPlaceholder)).toBe(everyPlaceholder);
  });

  it('still redacts a key block that already contains a placeholder', () => {
    const text = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN[EMAIL_1]BgkqhkiG9w0\n-----END PRIVATE KEY-----';
    expect(new Redactor().redact(text)).toBe('[PRIVATE_KEY_1]');
  });

  it('returns text without findings unchanged and counts nothing', () => {
    const redactor = new Redactor();
    const text = negatives.join('\n');
    expect(redactor.redact(text)).toBe(text);
    expect(redactor.counts).toEqual({});
  });

  it('restores placeholders it created and leaves unknown ones alone', () => {
    const redactor = new Redactor();
    redactor.redact('call +49 30 1234567 or mail a@example.com');
    expect(redactor.restore('The model says: contact [EMAIL_1] or [PHONE_1]; [EMAIL_7] and [FOO_1] are unknown.')).toBe(
      'The model says: contact a@example.com or +49 30 1234567; [EMAIL_7] and [FOO_1] are unknown.',
    );
  });

  it('restores values containing replacement patterns literally', () => {
    const redactor = new Redactor();
    const text = "key -----BEGIN PRIVATE KEY-----\n$& $' $1\n-----END PRIVATE KEY----- end";
    const redacted = redactor.redact(text);
    expect(redacted).toBe('key [PRIVATE_KEY_1] end');
    expect(redactor.restore(redacted)).toBe(text);
  });

  it('does not let callers change its counts', () => {
    const redactor = new Redactor();
    redactor.redact('a@example.com');
    const counts = redactor.counts as Record<string, number>;
    expect(() => {
      counts.EMAIL = 99;
    }).toThrow(TypeError);
    expect(redactor.counts).toEqual({ EMAIL: 1 });
  });

  describe('redactDeep', () => {
    it('redacts strings at any depth, keys and PII-shaped integers included, and keeps other values', () => {
      const redactor = new Redactor();
      const input = {
        job: { id: '42', attempts: 3, paused: false, parent: null, missing: undefined },
        customer: { email: 'jane@example.com', phones: ['+49 30 1234567', 'n/a'] },
        'a@example.com': 'the key is scanned too',
        payments: [{ iban: 'DE89370400440532013000', amount: 4111111111111111, cents: 1999 }],
        logs: ['ECONNREFUSED 10.0.0.12:6379', ['nested jane@example.com']],
        at: new Date('2026-11-26T08:15:00Z'),
      };
      const output = redactor.redactDeep(input);
      expect(output).toEqual({
        job: { id: '42', attempts: 3, paused: false, parent: null, missing: undefined },
        customer: { email: '[EMAIL_1]', phones: ['[PHONE_1]', 'n/a'] },
        '[EMAIL_2]': 'the key is scanned too',
        payments: [{ iban: '[IBAN_1]', amount: '[CARD_1]', cents: 1999 }],
        logs: ['ECONNREFUSED [IPV4_1]:6379', ['nested [EMAIL_1]']],
        at: new Date('2026-11-26T08:15:00Z'),
      });
      expect(redactor.counts).toEqual({ EMAIL: 3, PHONE: 1, IBAN: 1, CARD: 1, IPV4: 1 });
    });

    it('returns a copy and leaves the input untouched', () => {
      const input = { user: { email: 'jane@example.com' }, tags: ['a@example.com'] };
      const output = new Redactor().redactDeep(input);
      expect(input).toEqual({ user: { email: 'jane@example.com' }, tags: ['a@example.com'] });
      expect(output.user).not.toBe(input.user);
      expect(output.tags).not.toBe(input.tags);
    });

    it('handles top-level strings and primitives', () => {
      const redactor = new Redactor();
      expect(redactor.redactDeep('mail a@example.com')).toBe('mail [EMAIL_1]');
      expect(redactor.redactDeep(42)).toBe(42);
      expect(redactor.redactDeep(null)).toBeNull();
      expect(redactor.redactDeep(true)).toBe(true);
    });

    it('keeps an own __proto__ key as data', () => {
      const input = JSON.parse('{"__proto__": {"email": "a@example.com"}}') as Record<string, unknown>;
      const output = new Redactor().redactDeep(input);
      expect(Object.getPrototypeOf(output)).toBe(Object.prototype);
      expect(Object.keys(output)).toEqual(['__proto__']);
      expect(output.__proto__).toEqual({ email: '[EMAIL_1]' });
    });

    it('rejects circular structures', () => {
      const input: Record<string, unknown> = { email: 'a@example.com' };
      input.self = input;
      expect(() => new Redactor().redactDeep(input)).toThrow(TypeError);
    });

    it('refuses a structure nested deeper than 64 levels instead of exhausting the stack', () => {
      const nest = (levels: number) => nestInArrays('a@b.de', levels);
      expect(JSON.stringify(new Redactor().redactDeep(nest(63)))).toContain('[EMAIL_1]');
      expect(() => new Redactor().redactDeep(nest(65))).toThrow('redactDeep: nested deeper than 64 levels');
      expect(() => new Redactor().redactDeep(nest(100_000))).toThrow(TypeError);
    });

    it('accepts the same object twice when it is not circular', () => {
      const shared = { email: 'a@example.com' };
      expect(new Redactor().redactDeep({ a: shared, b: shared })).toEqual({ a: { email: '[EMAIL_1]' }, b: { email: '[EMAIL_1]' } });
    });
  });
});
