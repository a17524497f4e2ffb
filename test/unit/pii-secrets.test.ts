import { describe, it, expect } from 'vitest';
import { detectPii, Redactor } from '../../src/domain/compliance/pii.js';
import { findings } from './pii-helpers.js';

/** A secret in a `key=value` / `key: value` pair: the line, and the value that must be redacted. */
const pairs: { line: string; value: string }[] = [
  { line: 'login failed: password=hunter2 user=bob', value: 'hunter2' },
  { line: 'PASSWD: s3cr3t!x', value: 's3cr3t!x' },
  { line: "pwd='Tr0ub4dor&3 x'", value: 'Tr0ub4dor&3 x' },
  { line: 'secret: "abc def 123"', value: 'abc def 123' },
  { line: 'token=ghp_16C7e42F292c6912E7710c838347Ae178B4a', value: 'ghp_16C7e42F292c6912E7710c838347Ae178B4a' },
  { line: 'api_key=AIzaSyA-1234567890abcdefghij', value: 'AIzaSyA-1234567890abcdefghij' },
  { line: 'apikey : 9f8e7d6c5b4a', value: '9f8e7d6c5b4a' },
  { line: 'GET /cb?access_token=ya29.a0AfH6SMBx&expires_in=3599', value: 'ya29.a0AfH6SMBx' },
  { line: '{"password": "hunter2", "user": "bob"}', value: 'hunter2' },
  { line: '{"Password":"p@ss\\"word"}', value: 'p@ss\\"word' },
  { line: 'X-Api-Key: abc123xyz', value: 'abc123xyz' },
  { line: 'DB_PASSWORD=correct-horse-battery', value: 'correct-horse-battery' },
  { line: "client_secret = 'xyz789'", value: 'xyz789' },
  { line: 'ACCESS-TOKEN: 0a1b2c3d4e', value: '0a1b2c3d4e' },
  { line: 'payload {\\"token\\":\\"abc123\\",\\"n\\":1}', value: 'abc123' },
  { line: 'config password = hunter2; server=db1', value: 'hunter2' },
  { line: 'the token: tok_9x8y7z.', value: 'tok_9x8y7z' },
  { line: 'Ticket: my API key: sk-live-0a9b8c, please rotate', value: 'sk-live-0a9b8c' },
  { line: 'User{name=bob, password=hunter2}', value: 'hunter2' },
  { line: 'refreshToken => "r-1/abc"', value: 'r-1/abc' },
  { line: '{"user":"bob","sessionToken":"s3ss10n"}', value: 's3ss10n' },
];

describe('secrets in key/value pairs', () => {
  it.each(pairs)('redacts the value of $line', ({ line, value }) => {
    expect(findings(line)).toEqual([{ type: 'SECRET', value }]);
    expect(new Redactor().redact(line)).toBe(line.replace(value, '[SECRET_1]'));
  });

  it('keeps the key name readable and redacts every value', () => {
    const redactor = new Redactor();
    expect(redactor.redact('password=hunter2 token=abc123 PASSWORD: "hunter2"')).toBe(
      'password=[SECRET_1] token=[SECRET_2] PASSWORD: "[SECRET_1]"',
    );
    expect(redactor.redact('{"api_key": "k-123", "apikey": "k-123"}')).toBe('{"api_key": "[SECRET_3]", "apikey": "[SECRET_3]"}');
    expect(redactor.counts).toEqual({ SECRET: 5 });
  });

  it('restores the values and leaves redacted text unchanged', () => {
    const redactor = new Redactor();
    const text = '{"password": "hunter2"} secret=abc';
    const once = redactor.redact(text);
    expect(once).toBe('{"password": "[SECRET_1]"} secret=[SECRET_2]');
    expect(redactor.redact(once)).toBe(once);
    expect(redactor.redact(`${once} (token=[SECRET_2]).`)).toBe(`${once} (token=[SECRET_2]).`);
    expect(redactor.restore(once)).toBe(text);
  });

  it('lets a Bearer token after a secret key be a bearer token', () => {
    expect(findings('token: Bearer abcdefghijklmnop12')).toEqual([{ type: 'BEARER_TOKEN', value: 'abcdefghijklmnop12' }]);
  });

  it('lets a 40-character AWS secret key be an AWS secret key', () => {
    expect(detectPii('aws_secret_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY').map((m) => m.type)).toEqual(['AWS_SECRET_KEY']);
  });

  it('scans long runs of keys, quotes and blanks and still finds the secret after them', () => {
    // A value pattern that backtracks would not finish within the test timeout.
    const filler = ['password="'.repeat(20_000), "pwd='".repeat(20_000), 'token:\\"'.repeat(20_000), `token${' '.repeat(50_000)}`].join('\n');
    const text = `${filler}\napi_key=k-123`;
    expect(detectPii(text).at(-1)).toEqual({ type: 'SECRET', start: text.length - 5, end: text.length, value: 'k-123' });
  });

  it.each([
    'password reset requested for user 42',
    'passwordless login enabled',
    'token count 1234, max_tokens=4096, inputTokens: 1200, tokens: 350',
    'tokenizer: cl100k, secretary=Jane',
    'the secret sauce is patience',
    '{"password": null, "token": "", "secret": undefined}',
    'password: ******** token=[redacted]',
  ])('finds nothing in %j', (text) => {
    expect(detectPii(text)).toEqual([]);
  });
});
