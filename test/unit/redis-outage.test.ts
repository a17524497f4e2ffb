import { describe, expect, it } from 'vitest';
import { isConnectionError, redisOutageLog } from '../../src/redis-outage.js';
import { pino } from 'pino';

const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6391'), { code: 'ECONNREFUSED' });

describe('redis outage log', () => {
  it('tells connection errors from command errors', () => {
    expect(isConnectionError(refused())).toBe(true);
    expect(isConnectionError(new Error('Connection is closed.'))).toBe(true);
    expect(isConnectionError(new Error('ERR Error running script (call to f_1234): @user_script:1: WRONGTYPE'))).toBe(false);
  });

  it('one warning per outage, command errors always, and the recovery with how long and how much was folded', () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) });
    let now = 1_000;
    const outage = redisOutageLog(logger, () => now);
    outage.restored();
    expect(lines).toEqual([]);
    for (let i = 0; i < 30; i += 1) {
      outage.error(`queue ${i % 5}`, refused());
    }
    outage.error('client', new Error('ERR unknown command'));
    expect(outage.down).toBe(true);
    now += 2_500;
    outage.restored();
    expect(outage.down).toBe(false);
    expect(lines.map((l) => [l.msg, l.level])).toEqual([
      ['redis unreachable: retrying; further connection errors are folded into one line when it is back', 40],
      ['client error', 50],
      ['redis reachable again', 30],
    ]);
    expect(lines[2]).toMatchObject({ downSeconds: 2.5, foldedErrors: 29 });
  });
});
