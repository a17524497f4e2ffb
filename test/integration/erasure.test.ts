import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hmacPseudonymizer } from '../../src/domain/meta-monitor/executions.js';
import { createLogger } from '../../src/observability/logger.js';
import { makeTestApp, testHmacKey, type TestApp } from '../helpers/app.js';
import { dumpKeys } from '../helpers/redis.js';

const base = '/admin/bedrock-support';
const alice = 'alice.subject-93f1';
const bob = 'bob.keeps-5c2e';

describe('erasure of a data subject', () => {
  let t: TestApp;
  const logLines: string[] = [];
  const hmac = hmacPseudonymizer(testHmacKey);
  const now = Date.now();
  const record = (id: string, user: string | undefined, hoursAgo: number, message?: string) => ({
    executionId: id,
    timestamp: new Date(now - hoursAgo * 3_600_000).toISOString(),
    operation: 'plan-task',
    status: message ? 'failure' : 'success',
    latencyMs: 120,
    ...(user === undefined ? {} : { context: { userId: user, taskType: 'refactor' } }),
    ...(message ? { error: { type: 'E', message } } : {}),
  });

  beforeAll(async () => {
    t = await makeTestApp('erasure', { logger: createLogger('debug', {}, { write: (l: string) => logLines.push(l) }) });
  });

  afterAll(async () => {
    await t.close();
  });

  it('deletes every record of the subject found through its HMAC, keeps the others, and records the request by the HMAC only', async () => {
    // A record of the subject stored before the user index existed (by an earlier version): in its hour bucket only.
    const legacyAt = now - 40 * 3_600_000;
    const legacy = { ...record('ex-alice-legacy', undefined, 40), timestamp: legacyAt, context: { userId: hmac(alice) } };
    const legacyBucket = `${t.prefix}:executions:${new Date(legacyAt).toISOString().slice(0, 13)}`;
    await t.client.zadd(legacyBucket, legacyAt, JSON.stringify(legacy));

    const ingest = await t.call('POST', `${base}/meta-monitor/executions`, {
      role: 'ingest',
      body: [
        record('ex-alice-1', alice, 1),
        record('ex-alice-2', alice, 3, 'timeout talking to the planner'),
        record('ex-alice-3', alice, 30),
        record('ex-bob-1', bob, 1),
        record('ex-bob-2', bob, 30),
        record('ex-nobody', undefined, 2),
      ],
    });
    expect(ingest.status).toBe(200);
    expect(await t.client.zcard(`${t.prefix}:executions:user:${hmac(alice)}`)).toBe(3);

    // Administer only; the subject is required and named when missing or empty.
    expect((await t.call('POST', `${base}/compliance/erasure`, { role: 'operator', body: { subject: alice } })).status).toBe(403);
    for (const body of [{}, { subject: '' }, { subject: 42 }]) {
      const bad = await t.call('POST', `${base}/compliance/erasure`, { body });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { details: { field: string } } }).error.details.field).toBe('subject');
    }

    const r = await t.call('POST', `${base}/compliance/erasure`, { body: { subject: alice, reason: 'GDPR Art. 17 request #221' } });
    const answer = (await r.json()) as Record<string, unknown>;
    expect(r.status, JSON.stringify(answer)).toBe(200);
    expect(answer).toMatchObject({ subject: { hmac: hmac(alice) }, removed: { executions: 4, userIndexEntries: 3 } });
    expect(answer.scannedHours).toBeGreaterThan(0);
    expect(JSON.stringify(answer)).not.toContain(alice);

    // Nothing of the subject remains in Redis: not the raw id, not its HMAC in any record, not its executions.
    const dump = await dumpKeys(t.client, t.prefix);
    const trailKey = `${t.prefix}:audit-trail`;
    const outsideTrail = dump
      .split('\n')
      .filter((line) => !line.startsWith(`${trailKey} `))
      .join('\n');
    expect(dump).not.toContain(alice);
    expect(outsideTrail).not.toContain(hmac(alice));
    for (const id of ['ex-alice-1', 'ex-alice-2', 'ex-alice-3', 'ex-alice-legacy']) {
      expect(dump).not.toContain(id);
    }
    // The other user's records and the one without a user remain.
    const kept: string[] = [];
    for await (const e of t.adapters.executions.window(new Date(now - 48 * 3_600_000), new Date(now + 1))) {
      kept.push(e.executionId);
    }
    expect(kept.sort()).toEqual(['ex-bob-1', 'ex-bob-2', 'ex-nobody']);
    expect(await t.client.zcard(`${t.prefix}:executions:user:${hmac(bob)}`)).toBe(2);
    // An erased id may be sent again: the duplicate index forgot it with its record.
    const again = await t.call('POST', `${base}/meta-monitor/executions`, { role: 'ingest', body: [record('ex-alice-1', undefined, 1)] });
    expect(await again.json()).toMatchObject({ accepted: 1, duplicates: 0 });

    // The trail: the request by its HMAC, in its own entry and in the request's.
    const entries = (await t.auditTrail.range()).map((e) => e.event);
    expect(entries.find((e) => e?.action === 'compliance.erasure')).toMatchObject({ target: `subject:${hmac(alice)}`, details: { subjectHmac: hmac(alice), reason: 'GDPR Art. 17 request #221' } });
    expect(entries.find((e) => e?.action === 'http.request' && e.target === `POST ${base}/compliance/erasure`)).toMatchObject({ details: { status: 200, body: { subjectHmac: hmac(alice) } } });
    expect(logLines.join('\n')).not.toContain(alice);
  });

  it('erases nothing, and says so, for a subject with no records', async () => {
    const r = await t.call('POST', `${base}/compliance/erasure`, { body: { subject: 'never-seen' } });
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ removed: { executions: 0, userIndexEntries: 0 } });
  });
});
