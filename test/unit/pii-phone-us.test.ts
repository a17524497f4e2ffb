import { describe, it, expect } from 'vitest';
import { detectPii, Redactor } from '../../src/domain/compliance/pii.js';
import { findings } from './pii-helpers.js';

/** US (NANP) numbers in the ways people write them: the line, and the number in it. */
const numbers: { line: string; value: string }[] = [
  { line: 'call (415) 555-2671 now', value: '(415) 555-2671' },
  { line: 'cell 415-555-2671', value: '415-555-2671' },
  { line: 'fax 415.555.2671.', value: '415.555.2671' },
  { line: 'US support line +1 415 555 2671 is down', value: '+1 415 555 2671' },
  { line: 'phone:(415)555-2671', value: '(415)555-2671' },
  { line: 'dial 1-415-555-2671 or wait', value: '1-415-555-2671' },
  { line: 'dial +1-415-555-2671', value: '+1-415-555-2671' },
  { line: 'dial +1.415.555.2671, then 3', value: '+1.415.555.2671' },
  { line: 'dial 1 (415) 555-2671', value: '1 (415) 555-2671' },
  { line: '{"phone":"212-555-0100","name":"x"}', value: '212-555-0100' },
  { line: 'call me (415-555-2671) after 5', value: '415-555-2671' },
  { line: 'desk 415-555-2671 ext. 12', value: '415-555-2671' },
];

describe('US phone numbers', () => {
  it.each(numbers)('finds $value', ({ line, value }) => {
    expect(findings(line)).toEqual([{ type: 'PHONE', value }]);
  });

  it('redacts them with the same placeholder as the same number written the same way', () => {
    const redactor = new Redactor();
    expect(redactor.redact('from (415) 555-2671 to 415.555.2671, again (415) 555-2671')).toBe('from [PHONE_1] to [PHONE_2], again [PHONE_1]');
  });

  it.each([
    'released 2024-01-15, deployed at 2024-01-15T12:30:45Z',
    'logged 2024-01-15 12:30:45.123 and 2024-01-15 12:30:45,123',
    'versions 1.2.3, 10.4.0-rc.1, 415.555.2 and 415.555.2671.1',
    'ports 8080, redis :6379, http://localhost:4155/health and localhost:5552',
    'took 415 ms, waited 555 ms, p99 2671 ms',
    'waiting: 120, active: 415, delayed: 555, completed: 2671',
    'trace 550e8400-e29b-41d4-a716-446655440000, 41555526-7141-5555-2671-415555267100',
    'sha256 4155552671a4155552671b4155552671c415555267de and 415-555-2671abc',
    'job 4155552671 attempt 2, job repeat:daily:1764144900000, id=415-555-2671-3',
    'sizes 512 256 1024, totals 415 555 2671',
    'not area codes: 123-456-7890, 155-555-2671, 911-555-2671, 415-911-2671',
    'range 415-555, build 2024.01.1234, ratio 415/555/2671',
  ])('finds nothing in %j', (text) => {
    expect(detectPii(text)).toEqual([]);
  });
});
