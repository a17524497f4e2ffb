import { describe, expect, it } from 'vitest';
import { isRedisUnreachable } from '../../src/redis.js';
import { redisOutageLog } from '../../src/redis-outage.js';
import { pino } from 'pino';

const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6391'), { code: 'ECONNREFUSED' });

describe('redis outage log', () => {
  it('tells connection errors from command errors by class, socket code and connection state, not by message', () => {
    const up = [{ status: 'ready', stream: { writable: true } }];
    const reconnecting = [{ status: 'reconnecting', stream: { writable: false } }];
    expect(isRedisUnreachable(refused(), up)).toBe(true);
    // ioredis' own plain Errors count only while a connection is down: the text alone decides nothing.
    expect(isRedisUnreachable(new Error('Connection is closed.'), reconnecting)).toBe(true);
    expect(isRedisUnreachable(new Error('Connection is closed.'), up)).toBe(false);
    expect(isRedisUnreachable(new Error('anything at all'), reconnecting)).toBe(true);
    expect(isRedisUnreachable(new Error('anything at all'), [{ status: 'ready', stream: { writable: false } }])).toBe(true);
    // The classes ioredis gives up with.
    const maxRetries = Object.assign(new Error('Reached the max retries per request limit'), { name: 'MaxRetriesPerRequestError' });
    expect(isRedisUnreachable(maxRetries, up)).toBe(true);
    // Redis answered: a reply error is never an outage, whatever the connections say.
    const reply = Object.assign(new Error('ERR Error running script (call to f_1234): @user_script:1: WRONGTYPE'), { name: 'ReplyError' });
    expect(isRedisUnreachable(reply, reconnecting)).toBe(false);
    expect(isRedisUnreachable('a string', reconnecting)).toBe(false);
    // BullMQ's script answers carry a numeric code: Redis answered, even while another connection reconnects.
    const missingKey = Object.assign(new Error('Missing key for job 7. moveToFinished'), { code: -1 });
    expect(isRedisUnreachable(missingKey, reconnecting)).toBe(false);
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
