/**
 * The README's IAM policy (`deploy/iam-policy.json`) grants exactly what the code calls: every
 * AWS SDK command sent from `src/` needs its IAM action in the policy, and the policy holds no
 * action that no command needs (least privilege).
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dashboardNames } from '../../src/domain/cloudwatch/dashboards.js';
import { namespaces } from '../../src/domain/cloudwatch/metrics.js';

interface Statement {
  Effect: string;
  Action: string[];
  Resource: string[] | string;
  Condition?: Record<string, Record<string, string | string[]>>;
}
const readPolicy = async () => JSON.parse(await readFile('deploy/iam-policy.json', 'utf8')) as { Statement: Statement[] };

/** The IAM action each SDK command needs (the Converse API is authorised as InvokeModel). */
const actionOf: Record<string, string> = {
  ConverseCommand: 'bedrock:InvokeModel',
  ConverseStreamCommand: 'bedrock:InvokeModelWithResponseStream',
  InvokeModelCommand: 'bedrock:InvokeModel',
  PutMetricDataCommand: 'cloudwatch:PutMetricData',
  PutDashboardCommand: 'cloudwatch:PutDashboard',
  GetDashboardCommand: 'cloudwatch:GetDashboard',
  PutObjectCommand: 's3:PutObject',
  GetObjectCommand: 's3:GetObject',
  HeadObjectCommand: 's3:GetObject',
  ListObjectsV2Command: 's3:ListBucket',
  // HeadBucket (the archive bucket's region) is authorised as ListBucket.
  HeadBucketCommand: 's3:ListBucket',
  DeleteObjectCommand: 's3:DeleteObject',
};

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(entries.map((e) => (e.isDirectory() ? sources(join(dir, e.name)) : Promise.resolve(e.name.endsWith('.ts') ? [join(dir, e.name)] : []))));
  return nested.flat();
}

describe('the IAM policy', () => {
  it('grants the action of every AWS SDK command the code sends, and nothing else', async () => {
    const commands = new Set<string>();
    for (const file of await sources('src')) {
      const text = await readFile(file, 'utf8');
      if (!text.includes("from '@aws-sdk/")) {
        continue;
      }
      for (const m of text.matchAll(/new ([A-Z][A-Za-z0-9]*Command)\(/g)) {
        commands.add(m[1] ?? '');
      }
    }
    expect(commands.size).toBeGreaterThan(0);
    const unknown = [...commands].filter((c) => actionOf[c] === undefined);
    expect(unknown, 'commands with no IAM action in this test: add them').toEqual([]);
    const needed = new Set([...commands].map((c) => actionOf[c]));
    const policy = await readPolicy();
    const granted = new Set(policy.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) => s.Action));
    expect([...needed].filter((a) => !granted.has(a ?? '')), 'needed but not granted').toEqual([]);
    expect([...granted].filter((a) => !needed.has(a)), 'granted but never needed').toEqual([]);
    // No wildcard action, and Bedrock only on model ARNs of the EU.
    expect([...granted].some((a) => a.includes('*'))).toBe(false);
    for (const s of policy.Statement.filter((x) => x.Action.some((a) => a.startsWith('bedrock:')))) {
      for (const r of [s.Resource].flat()) {
        expect(r).toMatch(/^arn:aws:bedrock:eu-[a-z]+-\d::foundation-model\//);
      }
    }
  });

  it('lets CloudWatch metrics go to the service namespaces only, and dashboards be put on the two of the runbook only', async () => {
    const policy = await readPolicy();
    const [metrics, ...moreMetrics] = policy.Statement.filter((s) => s.Action.includes('cloudwatch:PutMetricData'));
    expect(moreMetrics).toEqual([]);
    // PutMetricData has no resource of its own: the namespace condition is what scopes it.
    expect(metrics?.Condition).toEqual({ StringLike: { 'cloudwatch:namespace': 'BedrockSupport/*' } });
    for (const ns of Object.values(namespaces)) {
      expect(ns).toMatch(/^BedrockSupport\/[^*]+$/);
    }
    const dashboards = policy.Statement.filter((s) => s.Action.includes('cloudwatch:PutDashboard')).flatMap((s) => [s.Resource].flat());
    expect(dashboards).toEqual(dashboardNames.map((name) => `arn:aws:cloudwatch::<account>:dashboard/${name}`));
  });
});
