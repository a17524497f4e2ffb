/**
 * The spec scan without Redis: the checklist parser, and whole scans of a temporary spec folder
 * read from disk (the real adapter) into an in-memory gap store that applies the same lifecycle
 * as the Redis one.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { targetSchema } from '../../src/domain/audit/inventory.js';
import { severityOf, type Gap, type GapStore } from '../../src/domain/gaps/gap.js';
import { distinctSightings, observeRun } from '../../src/domain/gaps/lifecycle.js';
import { parseTasks, pathsIn, runSpecScan, selectSpecTargets, UnknownSpecTargetsError, type SpecScanLimits, type SpecScanResult, type SpecTarget } from '../../src/domain/gaps/spec-scan.js';
import { createSpecFiles } from '../../src/probes/spec-files.js';

/** The gap store's contract in memory: `observeRun` over a map. */
function memoryGaps(): Pick<GapStore, 'observe' | 'list'> & { all: () => Gap[] } {
  const gaps = new Map<string, Gap>();
  return {
    all: () => [...gaps.values()],
    observe(run, sightings) {
      const distinct = distinctSightings(sightings);
      const { changes, observation } = observeRun(run, distinct, gaps, [...gaps.values()]);
      for (const c of changes) {
        gaps.set(c.after.id, c.after);
      }
      return Promise.resolve(observation);
    },
    list(filter = {}) {
      const found = [...gaps.values()].filter((g) => (filter.source ? g.source === filter.source : true) && (filter.status ? filter.status.includes(g.status) : true));
      return Promise.resolve(found.slice(0, filter.limit ?? 100));
    },
  };
}

let root: string;
let gaps: ReturnType<typeof memoryGaps>;
let scans = 0;

const write = async (path: string, text: string) => {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), text);
};

const target = (over: Record<string, unknown> = {}): SpecTarget => {
  const t = targetSchema.parse({ id: 'app-specs', kind: 'spec', path: root, criticality: 'high', component: 'checkout', ...over });
  if (t.kind !== 'spec') {
    throw new Error('not a spec target');
  }
  return t;
};

const scan = (targets: SpecTarget[] = [target()], limits?: Partial<SpecScanLimits>): Promise<SpecScanResult> =>
  runSpecScan({ scanId: `spec-scan-${++scans}`, targets, trigger: { by: 'test', reason: null, priority: 'medium' } }, { files: createSpecFiles(), gaps, clock: () => new Date(), signal: new AbortController().signal, ...(limits ? { limits } : {}) });

const open = () => gaps.all().filter((g) => g.status === 'detected');

const checkout = [
  '# Implementation Plan',
  '',
  '- [x] 1. Set up the checkout module in `src/checkout/index.ts`',
  '- [ ] 2. Create the payment form',
  '  - [ ] 2.1 Validate card input in src/checkout/validate.ts',
  '    - Reuse `src/checkout/index.ts` for the wiring',
  '    - _Requirements: 1.2_',
  '  * [ ] 2.2 Wire `src/checkout/refunds.ts` into the router',
  '  - [X] 2.3 Style the form',
  '',
  '```markdown',
  '- [ ] an example inside a code block, not a task',
  '```',
].join('\n');

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'bsm-spec-'));
  gaps = memoryGaps();
  await write('src/checkout/index.ts', 'export {};\n');
  await write('.kiro/specs/checkout/tasks.md', checkout);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('parsing a tasks.md', () => {
  it('finds open, ticked, nested and starred items, not those in code blocks, and the paths each names', () => {
    const tasks = parseTasks(checkout);
    expect(tasks.map((t) => [t.line, t.done, t.indent > 0])).toEqual([
      [3, true, false],
      [4, false, false],
      [5, false, true],
      [8, false, true],
      [9, true, true],
    ]);
    expect(tasks[0]?.paths).toEqual(['src/checkout/index.ts']);
    // The detail lines under 2.1 add what they name; `_Requirements: 1.2_` names nothing.
    expect(tasks[2]?.paths).toEqual(['src/checkout/validate.ts', 'src/checkout/index.ts']);
    expect(tasks[3]?.paths).toEqual(['src/checkout/refunds.ts']);
    expect(tasks[1]?.paths).toEqual([]);
  });

  it('takes backticked paths and path-looking tokens, not code, URLs, absolute paths or ones leaving the root', () => {
    expect(pathsIn('Add `README.md`, `docs/setup/` and ./scripts/run.sh (see src/a/b.ts).')).toEqual(['README.md', 'docs/setup', 'scripts/run.sh', 'src/a/b.ts']);
    expect(pathsIn('Call `Array.from()` and `npm run build`, see https://example.com/a/b.html, `/etc/hosts`, `../outside.ts`, and/or later')).toEqual([]);
  });
});

describe('a scan of a spec folder', () => {
  it('turns open tasks into exactly the right gaps: incomplete, or missing when a named file does not exist', async () => {
    const result = await scan();
    expect(result.targets[0]).toMatchObject({ id: 'app-specs', status: 'scanned', specsFound: 1, tasks: { open: 3, done: 2 }, problems: [] });
    expect(result.targets[0]?.gaps.opened).toHaveLength(3);
    const byText = new Map(open().map((g) => [g.subject, g]));
    expect([...byText.keys()].sort()).toEqual([
      'app-specs/checkout/Create the payment form',
      'app-specs/checkout/Validate card input in src/checkout/validate.ts',
      'app-specs/checkout/Wire `src/checkout/refunds.ts` into the router',
    ]);
    const parent = byText.get('app-specs/checkout/Create the payment form');
    expect(parent).toMatchObject({ source: 'spec', check: 'task', type: 'incomplete_feature', severity: severityOf('incomplete_feature', 'high'), components: ['checkout'] });
    expect(parent?.title).toContain('line 4');
    // validate.ts is missing (index.ts, also named under it, exists): missing_implementation naming only the missing one.
    const validate = byText.get('app-specs/checkout/Validate card input in src/checkout/validate.ts');
    expect(validate).toMatchObject({ type: 'missing_implementation', severity: severityOf('missing_implementation', 'high') });
    expect(validate?.evidence.expected).toContain('src/checkout/validate.ts');
    expect(validate?.evidence.expected).not.toContain('index.ts');
    expect(validate?.title).toContain('line 5');
    expect(byText.get('app-specs/checkout/Wire `src/checkout/refunds.ts` into the router')?.type).toBe('missing_implementation');
  });

  it('a task ticked since resolves its gap; a file created since turns missing into incomplete', async () => {
    await scan();
    await write('.kiro/specs/checkout/tasks.md', checkout.replace('- [ ] 2. Create the payment form', '- [x] 2. Create the payment form'));
    await write('src/checkout/validate.ts', 'export {};\n');
    const second = await scan();
    const resolved = gaps.all().filter((g) => g.status === 'resolved');
    expect(resolved.map((g) => [g.subject, g.type]).sort()).toEqual([
      ['app-specs/checkout/Create the payment form', 'incomplete_feature'],
      ['app-specs/checkout/Validate card input in src/checkout/validate.ts', 'missing_implementation'],
    ]);
    expect(second.targets[0]?.gaps.resolved).toHaveLength(2);
    expect(second.targets[0]?.gaps.opened).toHaveLength(1);
    expect(second.targets[0]?.gaps.recurring).toHaveLength(1);
    expect(open().map((g) => [g.subject, g.type]).sort()).toEqual([
      ['app-specs/checkout/Validate card input in src/checkout/validate.ts', 'incomplete_feature'],
      ['app-specs/checkout/Wire `src/checkout/refunds.ts` into the router', 'missing_implementation'],
    ]);
  });

  it('moving lines and renumbering keep the gap ids; the title follows the line', async () => {
    await scan();
    const before = new Map(open().map((g) => [g.subject, g.id]));
    const moved = ['# Plan', '', '- [ ] 1. A new first task', '', ...checkout.split('\n').slice(2)].join('\n').replace('2. Create the payment form', '3.   Create  the payment form');
    await write('.kiro/specs/checkout/tasks.md', moved);
    const second = await scan();
    expect(second.targets[0]?.gaps.resolved).toEqual([]);
    expect(second.targets[0]?.gaps.recurring.sort()).toEqual([...before.values()].sort());
    expect(second.targets[0]?.gaps.opened).toHaveLength(1);
    const parent = gaps.all().find((g) => g.id === before.get('app-specs/checkout/Create the payment form'));
    expect(parent?.title).toContain('line 6');
    expect(parent?.count).toBe(2);
  });

  it('a task deleted, or a whole spec removed, resolves its gaps; an unreadable spec resolves nothing', async () => {
    await write('.kiro/specs/search/tasks.md', '- [ ] Index the catalogue\n');
    await scan();
    expect(open()).toHaveLength(4);
    await rm(join(root, '.kiro/specs/search'), { recursive: true });
    await write('.kiro/specs/checkout/tasks.md', checkout.replace(/.*refunds.*\n/, ''));
    const second = await scan();
    expect(gaps.all().filter((g) => g.status === 'resolved').map((g) => g.subject).sort()).toEqual(['app-specs/checkout/Wire `src/checkout/refunds.ts` into the router', 'app-specs/search/Index the catalogue']);
    expect(second.targets[0]?.gaps.resolved).toHaveLength(2);
    // Too large now: skipped with a reason, its gaps left as they are.
    await write('.kiro/specs/checkout/tasks.md', `${checkout}\n${'x'.repeat(2_000)}`);
    const third = await scan([target()], { maxFileBytes: 1_000 });
    expect(third.targets[0]?.problems).toEqual([expect.objectContaining({ kind: 'too_large', spec: 'checkout' })]);
    expect(third.targets[0]?.gaps.resolved).toEqual([]);
    expect(open()).toHaveLength(2);
  });

  it('a missing directory is reported, not thrown, and resolves nothing', async () => {
    await scan();
    const result = await scan([target({ path: join(root, 'nowhere') }), target({ id: 'app-specs-2' })]);
    expect(result.targets[0]).toMatchObject({ status: 'unreadable', specsFound: 0, problems: [expect.objectContaining({ kind: 'unreadable' })] });
    expect(result.targets[0]?.problems[0]?.detail).toContain('ENOENT');
    expect(result.targets[1]?.status).toBe('scanned');
    expect(open().filter((g) => g.subject.startsWith('app-specs/'))).toHaveLength(3);
  });

  it('does not follow links out of the root, and keeps within its limits', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'bsm-spec-outside-'));
    try {
      await mkdir(join(outside, 'leak'), { recursive: true });
      await writeFile(join(outside, 'leak', 'tasks.md'), '- [ ] Secret task outside\n');
      await writeFile(join(outside, 'real.ts'), '');
      await symlink(join(outside, 'leak'), join(root, '.kiro/specs/leak'));
      await symlink(join(outside, 'real.ts'), join(root, 'linked.ts'));
      await write('.kiro/specs/linked/tasks.md', '- [ ] Use `linked.ts`\n');
      const result = await scan();
      expect(open().map((g) => g.subject)).not.toContain('app-specs/leak/Secret task outside');
      const problems = result.targets[0]?.problems ?? [];
      expect(problems.map((p) => [p.kind, p.spec])).toEqual(expect.arrayContaining([['outside_root', 'leak'], ['outside_root', 'linked']]));
      // A link out of the root is neither there nor missing.
      expect(open().find((g) => g.subject === 'app-specs/linked/Use `linked.ts`')?.type).toBe('incomplete_feature');
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
    await write('.kiro/specs/zz-late/tasks.md', '- [ ] After the limit\n');
    const bounded = await scan([target()], { maxSpecs: 1, maxTasks: 3 });
    expect(bounded.targets[0]?.specs.map((s) => [s.name, s.open + s.done, s.complete])).toEqual([['checkout', 3, false]]);
    expect(bounded.targets[0]?.problems.map((p) => p.kind)).toEqual(['limit', 'limit']);
  });

  it('redacts personal data in task text before it is stored, with subjects that do not depend on neighbouring tasks', async () => {
    await write('.kiro/specs/notify/tasks.md', '- [ ] Mail jonas.wolf@example.com when a refund fails\n- [ ] Mail mia.meyer@example.com weekly\n');
    // A spec named after a person, whose tasks.md is a directory: the problem quotes its name, redacted.
    await mkdir(join(root, '.kiro/specs/lena.berg@example.com/tasks.md'), { recursive: true });
    const result = await scan();
    expect(result.targets[0]?.problems).toEqual([expect.objectContaining({ kind: 'unreadable', spec: '[EMAIL_1]' })]);
    expect(JSON.stringify(result)).not.toContain('lena.berg');
    const stored = JSON.stringify(gaps.all());
    expect(stored).not.toContain('jonas.wolf');
    expect(stored).not.toContain('mia.meyer');
    const subjects = open().map((g) => g.subject).filter((s) => s.includes('/notify/'));
    expect(subjects.sort()).toEqual(['app-specs/notify/Mail [EMAIL_1] weekly', 'app-specs/notify/Mail [EMAIL_1] when a refund fails']);
  });
});

describe('choosing spec targets', () => {
  it('every spec target, or the named ones; a name that is not a spec target is refused', () => {
    const targets = [target(), target({ id: 'other' }), ...[targetSchema.parse({ id: 'web', kind: 'tcp', component: 'web', criticality: 'low', host: 'localhost', port: 80 })]];
    expect(selectSpecTargets(targets).map((t) => t.id)).toEqual(['app-specs', 'other']);
    expect(selectSpecTargets(targets, ['other']).map((t) => t.id)).toEqual(['other']);
    expect(() => selectSpecTargets(targets, ['web', 'nope'])).toThrow(UnknownSpecTargetsError);
  });

  it('a spec target is validated like the others: a relative path names the field', () => {
    const bad = targetSchema.safeParse({ id: 'x', kind: 'spec', path: 'relative/dir' });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['path']);
    const ok = targetSchema.parse({ id: 'x', kind: 'spec', path: '/srv/repo' });
    expect(ok).toMatchObject({ component: 'specs', criticality: 'medium' });
  });
});
