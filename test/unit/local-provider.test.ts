import { describe, expect, it } from 'vitest';
import { createLocalProvider } from '../../src/providers/local.provider.js';
import { LlmProviderError, type LlmRequest } from '../../src/domain/llm/types.js';

const provider = createLocalProvider();

function auditRequest(facts?: Record<string, unknown>): LlmRequest {
  return {
    operation: 'infrastructure',
    task: 'audit-narrative',
    system: 'You write audit narratives.',
    prompt: 'SECRET-PROMPT-CONTENT: describe the audit of host db-7 in detail.',
    ...(facts === undefined ? {} : { facts }),
  };
}

const auditFacts = {
  auditId: 'aud-42',
  status: 'degraded',
  score: 72,
  findings: [
    { severity: 'low', title: 'Verbose logging enabled' },
    { severity: 'critical', title: 'Root account without MFA' },
    { severity: 'high', message: 'Security group open to 0.0.0.0/0' },
    { severity: 'critical', title: 'CloudTrail disabled' },
    { severity: 'info', title: 'Tags missing' },
  ],
  recommendations: ['Enable MFA on the root account', { title: 'Turn CloudTrail back on' }],
  inventory: { hosts: 12, regions: ['eu-central-1', 'eu-west-1', 'eu-west-3', 'eu-north-1'], owner: { team: 'platform' } },
  probes: { failed: [], skipped: {} },
  dryRun: true,
};

describe('local provider', () => {
  it('writes a template summary from the facts only', async () => {
    const result = await provider.complete(auditRequest(auditFacts), new AbortController().signal);

    expect(result.model).toBe('local-template-v1');
    expect(result.usage).toEqual({ inputTokens: 0, outputTokens: 0 });
    expect(result.text.split('\n')).toEqual([
      '[local provider: template summary, no language model]',
      '# Audit narrative',
      'Status: degraded',
      'Findings: 5 (critical 2, high 1, low 1, info 1)',
      '- [critical] Root account without MFA',
      '- [critical] CloudTrail disabled',
      '- [high] Security group open to 0.0.0.0/0',
      '- [low] Verbose logging enabled',
      '- [info] Tags missing',
      'Recommendations: 2',
      '- Enable MFA on the root account',
      '- Turn CloudTrail back on',
      'Facts:',
      'auditId: aud-42',
      'score: 72',
      'inventory.hosts: 12',
      'inventory.regions: 4 items, first 3: eu-central-1, eu-west-1, eu-west-3',
      'inventory.owner.team: platform',
      'probes.failed: 0 items',
      'probes.skipped: (empty)',
      'dryRun: true',
    ]);
    expect(result.text).not.toContain('SECRET-PROMPT-CONTENT');
  });

  it('lists gaps by severity and puts unknown severities last', async () => {
    const result = await provider.complete(
      {
        ...auditRequest(),
        task: 'gap_report',
        facts: {
          gaps: [
            { title: 'No owner' },
            { severity: 'Medium', title: 'Backups  untested\nsince March' },
            { severity: 'warning', title: 'Odd severity' },
            { severity: 'high', title: 'Disk full' },
          ],
        },
      },
      new AbortController().signal,
    );

    expect(result.text.split('\n')).toEqual([
      '[local provider: template summary, no language model]',
      '# Gap report',
      'Gaps: 4 (high 1, medium 1, unspecified 1, warning 1)',
      '- [high] Disk full',
      '- [medium] Backups untested since March',
      '- [unspecified] No owner',
      '- [warning] Odd severity',
    ]);
  });

  it('renders facts of other shapes generically', async () => {
    const result = await provider.complete(
      auditRequest({ findings: ['not', 'objects'], status: { phase: 'running', progress: 40 }, big: 12n }),
      new AbortController().signal,
    );

    expect(result.text.split('\n').slice(2)).toEqual([
      'Facts:',
      'big: 12',
      'status.phase: running',
      'status.progress: 40',
      'findings: 2 items: not, objects',
    ]);
  });

  it('gives the same text for the same request', async () => {
    const first = await provider.complete(auditRequest(auditFacts), new AbortController().signal);
    const second = await createLocalProvider().complete(
      auditRequest(structuredClone(auditFacts)),
      new AbortController().signal,
    );

    expect(second).toEqual(first);
  });

  it('says plainly that it has nothing to describe when there are no facts', async () => {
    for (const facts of [undefined, {}]) {
      const result = await provider.complete(auditRequest(facts), new AbortController().signal);

      expect(result.text).toBe(
        [
          '[local provider: template summary, no language model]',
          '# Audit narrative',
          'No structured findings were provided for task "audit-narrative", so there is nothing to describe.',
        ].join('\n'),
      );
      expect(result.text).not.toContain('db-7');
    }
  });

  it('refuses an already aborted call', async () => {
    const controller = new AbortController();
    controller.abort();

    await expect(provider.complete(auditRequest(auditFacts), controller.signal)).rejects.toBeInstanceOf(LlmProviderError);
  });
});
