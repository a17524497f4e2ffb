/**
 * The spec scan of implementation support: the primary agent's task lists
 * (`.kiro/specs/<spec>/tasks.md` under a `spec` target's directory) as gap sightings of source
 * `spec`. An open task (`- [ ]`, `* [ ]`, nested or not) is an `incomplete_feature`; an open task
 * that names a file which does not exist under the target's directory is a
 * `missing_implementation` instead. A ticked task (`- [x]`) is no gap: the scan looked at it, so
 * its gap is resolved.
 *
 * A gap's subject is `<target id>/<spec>/<task text>`: the task's text normalized (numbering
 * dropped, spaces collapsed) and redacted, never its line, so a task keeps its gap id when lines
 * move; the line is in the title and the evidence.
 *
 * Parsing and sightings are pure; {@link runSpecScan} reads through the {@link SpecFiles} port
 * (`probes/spec-files.ts` reads the disk) and records through the gap store.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { z } from 'zod';
import type { TargetOf } from '../audit/inventory.js';
import { criticalities } from '../audit/inventory.js';
import { Redactor } from '../compliance/pii.js';
import { publicIdOf } from '../public-ids.js';
import { gapStatuses, severityOf, type GapSighting, type GapStore } from './gap.js';
import { isOpenGap } from './lifecycle.js';

/** What one scan reads at most. */
export const specScanLimits = {
  /** Spec directories read per scan, over all its targets (the rest are reported, not read). */
  maxSpecs: 200,
  /** Checklist items read per scan, over all its targets. */
  maxTasks: 5_000,
  /** A `tasks.md` larger than this is skipped with a reason. */
  maxFileBytes: 512 * 1024,
  /** File paths checked per task. */
  maxPathsPerTask: 10,
  /** Longest task text kept in a subject before it is shortened with a hash of the whole. */
  maxSubjectText: 200,
} as const;
export type SpecScanLimits = { -readonly [K in keyof typeof specScanLimits]: number };

/** Where the checklists sit under a spec target's directory. */
export const specsFolder = '.kiro/specs';
export const tasksFile = 'tasks.md';

/** Scan ids are `spec-scan-…`. */
export const specScanIdPrefix = 'spec-scan';
export const specScanIdOf = (jobId: string): string => publicIdOf(specScanIdPrefix, jobId);

// ---------------------------------------------------------------------------------------------
// Parsing (pure)

/** One checklist item of a `tasks.md`. */
export interface ParsedTask {
  /** 1-based line of the checkbox. */
  line: number;
  /** Nesting: the checkbox's indentation in columns (a tab counts 4). */
  indent: number;
  /** `[x]` / `[X]`; anything else in the box (` `, `-`, `~`) is open. */
  done: boolean;
  /** The item's text as written after the box. */
  text: string;
  /** Relative file paths the item names, on its line or on the non-checkbox lines indented under it. */
  paths: string[];
}

const checkbox = /^([ \t]*)[-*+][ \t]+\[([ xX\-~])\][ \t]+(\S.*?)[ \t]*$/;
const fence = /^[ \t]*(```|~~~)/;
const indentOf = (s: string): number => [...s].reduce((n, ch) => n + (ch === '\t' ? 4 : 1), 0);

/** File extensions that make a bare token or a backticked name a path. */
const extensions = new Set(
  'ts tsx js jsx mjs cjs json md mdx yaml yml toml py go rs java kt kts rb php cs c h cc cpp hpp css scss less html htm sql sh bash zsh proto graphql gql tf tfvars txt xml ini cfg conf vue svelte swift dart ex exs erl scala lua r ipynb csv lock env gradle properties dockerfile'.split(' '),
);
const pathChars = /^[A-Za-z0-9._@+\-/]+$/;
const hasExtension = (p: string): boolean => {
  const base = p.split('/').pop() ?? '';
  const dot = base.lastIndexOf('.');
  return dot > 0 && extensions.has(base.slice(dot + 1).toLowerCase());
};

/** A candidate turned into a path relative to the root, or null when it is not one (absolute, leaving the root, not a path). */
function relativePath(candidate: string, quoted: boolean): string | null {
  const token = candidate.replace(/^\.\//, '');
  if (token === '' || !pathChars.test(token) || token.startsWith('/') || token.startsWith('-') || token.includes('//')) {
    return null;
  }
  const dotfile = /^\.[A-Za-z0-9_-]+$/.test(token);
  const looksLikePath = quoted ? token.includes('/') || hasExtension(token) || dotfile : token.includes('/') && hasExtension(token);
  if (!looksLikePath || /^\.+$/.test(token)) {
    return null;
  }
  const normal = posix.normalize(token);
  return normal === '..' || normal.startsWith('../') ? null : normal.replace(/\/$/, '') || null;
}

/** The relative paths a line names: backticked paths, then path-looking tokens (`src/foo/bar.ts`). */
export function pathsIn(line: string): string[] {
  const found: string[] = [];
  const add = (p: string | null) => {
    if (p !== null && !found.includes(p)) {
      found.push(p);
    }
  };
  for (const m of line.matchAll(/`([^`\n]+)`/g)) {
    add(relativePath((m[1] ?? '').trim(), true));
  }
  for (const raw of line.replace(/`[^`\n]*`/g, ' ').split(/\s+/)) {
    add(relativePath(raw.replace(/^[("'[<]+/, '').replace(/[)"'\]>,;:.!?]+$/, ''), false));
  }
  return found;
}

/**
 * The checklist items of a `tasks.md`, in order. Items inside fenced code blocks are not tasks.
 * Lines under an item that are not items themselves (Kiro's details, `_Requirements: 1.2_`) add
 * the paths they name to it.
 */
export function parseTasks(markdown: string, maxPaths: number = specScanLimits.maxPathsPerTask): ParsedTask[] {
  const tasks: ParsedTask[] = [];
  let inFence = false;
  let current: ParsedTask | null = null;
  const lines = markdown.split(/\r?\n/);
  for (const [i, line] of lines.entries()) {
    if (fence.test(line)) {
      inFence = !inFence;
      continue;
    }
    if (inFence) {
      continue;
    }
    const m = checkbox.exec(line);
    if (m) {
      const text = m[3] ?? '';
      current = { line: i + 1, indent: indentOf(m[1] ?? ''), done: m[2] === 'x' || m[2] === 'X', text, paths: pathsIn(text).slice(0, maxPaths) };
      tasks.push(current);
      continue;
    }
    const indent = indentOf(/^[ \t]*/.exec(line)?.[0] ?? '');
    if (current !== null && line.trim() !== '' && indent > current.indent) {
      for (const p of pathsIn(line)) {
        if (current.paths.length < maxPaths && !current.paths.includes(p)) {
          current.paths.push(p);
        }
      }
    } else if (line.trim() !== '') {
      current = null;
    }
  }
  return tasks;
}

/** A task's text as its subject holds it: the numbering (`2.1`, `3.`) dropped, spaces collapsed. */
export function normalizeTaskText(text: string): string {
  return text
    .replace(/^\d+(\.\d+)*\.?\s+/, '')
    .replace(/\s+/g, ' ')
    .trim();
}

// ---------------------------------------------------------------------------------------------
// Sightings (pure)

export type SpecTarget = TargetOf<'spec'>;

/** The prefix of the subjects of a target's spec: `<target id>/<spec>/`. */
export const specSubjectPrefix = (targetId: string, spec: string): string => `${targetId}/${spec}/`;

/** The spec part of a subject of `targetId`, or null when the subject is not one of its tasks. */
export function specOfSubject(targetId: string, subject: string): string | null {
  if (!subject.startsWith(`${targetId}/`)) {
    return null;
  }
  const rest = subject.slice(targetId.length + 1);
  const slash = rest.indexOf('/');
  return slash <= 0 ? null : rest.slice(0, slash);
}

/** One task as the scan keeps it: redacted text, its subject, and the named paths that do not exist. */
export interface ScannedTask {
  spec: string;
  line: number;
  done: boolean;
  /** Redacted, normalized. */
  text: string;
  subject: string;
  /** Named paths (redacted) that do not exist under the root. */
  missing: string[];
}

/**
 * The scanned tasks of one spec, redacted, with their subjects. Each task is redacted on its own
 * (placeholders numbered within the task), so a task's subject does not depend on the tasks
 * around it; two tasks of one spec with the same text get ` (2)`, ` (3)` in their subjects.
 */
export function scannedTasks(targetId: string, spec: string, tasks: readonly ParsedTask[], missingOf: (task: ParsedTask) => readonly string[], limits: Pick<SpecScanLimits, 'maxSubjectText'> = specScanLimits): ScannedTask[] {
  const seen = new Map<string, number>();
  return tasks.map((task) => {
    const redactor = new Redactor();
    const text = redactor.redact(normalizeTaskText(task.text));
    const n = (seen.get(text) ?? 0) + 1;
    seen.set(text, n);
    const key = text.length <= limits.maxSubjectText ? text : `${text.slice(0, limits.maxSubjectText - 20)}… #${createHash('sha256').update(text).digest('hex').slice(0, 12)}`;
    return {
      spec,
      line: task.line,
      done: task.done,
      text,
      subject: `${specSubjectPrefix(targetId, spec)}${key}${n > 1 ? ` (${n})` : ''}`,
      missing: missingOf(task).map((p) => redactor.redact(p)),
    };
  });
}

const quote = (text: string): string => (text.length > 160 ? `"${text.slice(0, 157)}…"` : `"${text}"`);

/** The gap sighting of an open task; null for a ticked one. */
export function sightingOf(target: SpecTarget, task: ScannedTask): GapSighting | null {
  if (task.done) {
    return null;
  }
  const where = `${specsFolder}/${task.spec}/${tasksFile} line ${task.line}`;
  const base = { source: 'spec' as const, subject: task.subject, check: 'task', components: [target.component] };
  if (task.missing.length > 0) {
    const files = task.missing.join(', ');
    return {
      ...base,
      type: 'missing_implementation',
      severity: severityOf('missing_implementation', target.criticality),
      title: `Spec ${task.spec}: open task ${quote(task.text)} names ${files}, which ${task.missing.length === 1 ? 'does' : 'do'} not exist (${tasksFile} line ${task.line})`,
      evidence: { expected: `${files} under ${target.id}'s spec directory`, observed: `not found; the task is open at ${where}` },
    };
  }
  return {
    ...base,
    type: 'incomplete_feature',
    severity: severityOf('incomplete_feature', target.criticality),
    title: `Spec ${task.spec}: open task ${quote(task.text)} (${tasksFile} line ${task.line})`,
    evidence: { expected: 'the task ticked ([x])', observed: `open at ${where}` },
  };
}

/**
 * The subjects a target's scan speaks for: every task it read, and the open gaps of the target
 * whose spec it read whole (a task deleted since) or whose spec is gone from a listing it read
 * whole. A spec it could not read, or read only in part, resolves nothing beyond the tasks seen.
 */
export function scopeOf(targetId: string, tasks: readonly ScannedTask[], complete: { specs: ReadonlySet<string>; listing: ReadonlySet<string> | null }, openSubjects: readonly string[]): string[] {
  const scope = new Set(tasks.map((t) => t.subject));
  for (const subject of openSubjects) {
    const spec = specOfSubject(targetId, subject);
    if (spec !== null && (complete.specs.has(spec) || (complete.listing !== null && !complete.listing.has(spec)))) {
      scope.add(subject);
    }
  }
  return [...scope];
}

// ---------------------------------------------------------------------------------------------
// The scan result

export const specScanProblemKinds = ['unreadable', 'not_a_directory', 'no_specs_folder', 'too_large', 'outside_root', 'limit'] as const;
export type SpecScanProblemKind = (typeof specScanProblemKinds)[number];

const idList = z.array(z.string());

export const specScanTargetSchema = z.object({
  id: z.string(),
  path: z.string(),
  component: z.string(),
  criticality: z.enum(criticalities),
  /** `scanned`: the specs folder was listed; `unreadable`: the directory could not be read (nothing resolved). */
  status: z.enum(['scanned', 'unreadable']),
  specs: z.array(z.object({ name: z.string(), open: z.number().int(), done: z.number().int(), complete: z.boolean() })),
  specsFound: z.number().int(),
  tasks: z.object({ open: z.number().int(), done: z.number().int() }),
  gaps: z.object({ opened: idList, reopened: idList, recurring: idList, resolved: idList }),
  problems: z.array(z.object({ kind: z.enum(specScanProblemKinds), spec: z.string().nullable(), detail: z.string() })),
});
export type SpecScanTarget = z.infer<typeof specScanTargetSchema>;

export const specScanResultSchema = z.object({
  scanId: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  trigger: z.object({ by: z.string(), reason: z.string().nullable(), priority: z.string() }),
  limits: z.object({ maxSpecs: z.number(), maxTasks: z.number(), maxFileBytes: z.number(), maxPathsPerTask: z.number() }),
  targets: z.array(specScanTargetSchema),
  totals: z.object({ specs: z.number().int(), open: z.number().int(), done: z.number().int(), opened: z.number().int(), reopened: z.number().int(), recurring: z.number().int(), resolved: z.number().int(), problems: z.number().int() }),
});
export type SpecScanResult = z.infer<typeof specScanResultSchema>;

// ---------------------------------------------------------------------------------------------
// Reading (a port) and the scan

/** How a spec target's directory could be read. */
export type SpecListing = { kind: 'listed'; specs: string[]; /** Entries that are links leading outside the root: not followed. */ outside: string[] } | { kind: 'problem'; problem: Extract<SpecScanProblemKind, 'unreadable' | 'not_a_directory' | 'no_specs_folder' | 'outside_root'>; detail: string };

export type PathState = 'present' | 'absent' | 'outside_root' | 'unreadable';

export type TasksFile = { kind: 'read'; text: string } | { kind: 'absent' } | { kind: 'problem'; problem: Extract<SpecScanProblemKind, 'unreadable' | 'too_large' | 'outside_root'>; detail: string };

/**
 * Reads spec folders (a port: `probes/spec-files.ts` reads the disk). Never follows a symbolic
 * link to outside `root`; answers problems as values, never throws for what it finds.
 */
export interface SpecFiles {
  /** The spec directories under `<root>/.kiro/specs`, sorted by name. */
  listSpecs(root: string): Promise<SpecListing>;
  /** `<root>/.kiro/specs/<spec>/tasks.md`, if at most `maxBytes`. */
  readTasks(root: string, spec: string, maxBytes: number): Promise<TasksFile>;
  /** Whether `relative` names something under `root` (`outside_root`: it leads out, not followed; `unreadable`: cannot be told). */
  exists(root: string, relative: string): Promise<PathState>;
}

/** A scan asked for by another job or the API (the spec-scan job's payload). */
export interface SpecScanRequest {
  targets?: string[];
  reason?: string;
  requestedBy: string;
  priority: 'high' | 'medium' | 'low';
}

export interface SpecScanDeps {
  files: SpecFiles;
  gaps: Pick<GapStore, 'observe' | 'list'>;
  clock: () => Date;
  signal: AbortSignal;
  limits?: Partial<SpecScanLimits>;
  /** Told as targets finish: done of total. */
  onProgress?: (done: number, total: number) => void;
}

export interface SpecScanInput {
  scanId: string;
  targets: readonly SpecTarget[];
  trigger: SpecScanResult['trigger'];
}

/** The statuses of a gap a scan may still resolve. */
const openStatuses = gapStatuses.filter(isOpenGap);

/** The open spec gaps a scan may resolve: the 1,000 most recently seen. */
export const openSpecGapsRead = 1_000;

/** What a scan has left to read: shared by its targets, in order. */
interface Budget {
  specs: number;
  tasks: number;
}

async function scanTarget(target: SpecTarget, deps: SpecScanDeps, limits: SpecScanLimits, budget: Budget, runId: string, openSubjects: readonly string[]): Promise<SpecScanTarget> {
  const result: SpecScanTarget = {
    id: target.id,
    path: target.path,
    component: target.component,
    criticality: target.criticality,
    status: 'scanned',
    specs: [],
    specsFound: 0,
    tasks: { open: 0, done: 0 },
    gaps: { opened: [], reopened: [], recurring: [], resolved: [] },
    problems: [],
  };
  // Details quote file names and error messages: redacted like the tasks' text.
  const problem = (kind: SpecScanProblemKind, spec: string | null, detail: string) => result.problems.push({ kind, spec, detail: new Redactor().redact(detail) });
  const listing = await deps.files.listSpecs(target.path);
  if (listing.kind === 'problem') {
    problem(listing.problem, null, listing.detail);
    // A folder without `.kiro/specs` has no tasks: its gaps are resolved. One that cannot be read says nothing.
    if (listing.problem !== 'no_specs_folder') {
      result.status = 'unreadable';
      return result;
    }
  }
  const names = listing.kind === 'listed' ? listing.specs : [];
  result.specsFound = names.length;
  for (const name of listing.kind === 'listed' ? listing.outside : []) {
    problem('outside_root', new Redactor().redact(name), `${specsFolder}/${name} leads outside the spec directory: not followed`);
  }
  const redacted = names.map((n) => new Redactor().redact(n));
  const tasks: ScannedTask[] = [];
  const complete = new Set<string>();
  const existence = new Map<string, Promise<PathState>>();
  const exists = (p: string) => {
    let known = existence.get(p);
    if (known === undefined) {
      known = deps.files.exists(target.path, p);
      existence.set(p, known);
    }
    return known;
  };
  let listingComplete = true;
  for (const [i, name] of names.entries()) {
    deps.signal.throwIfAborted();
    const spec = redacted[i] ?? name;
    if (budget.specs <= 0 || budget.tasks <= 0) {
      listingComplete = false;
      problem('limit', null, `${names.length - i} spec${names.length - i === 1 ? '' : 's'} not read: a scan reads at most ${limits.maxSpecs} specs and ${limits.maxTasks} tasks`);
      break;
    }
    budget.specs -= 1;
    const file = await deps.files.readTasks(target.path, name, limits.maxFileBytes);
    if (file.kind === 'problem') {
      problem(file.problem, spec, file.detail);
      continue;
    }
    let parsed = file.kind === 'read' ? parseTasks(file.text, limits.maxPathsPerTask) : [];
    let whole = true;
    if (parsed.length > budget.tasks) {
      const next = parsed[budget.tasks];
      problem('limit', spec, `tasks from line ${next?.line ?? '?'} on not read: a scan reads at most ${limits.maxTasks} tasks`);
      parsed = parsed.slice(0, budget.tasks);
      whole = false;
    }
    budget.tasks -= parsed.length;
    // A path that leads out of the root or cannot be looked at is neither there nor missing: reported once per spec.
    const untold = new Map<string, 'outside_root' | 'unreadable'>();
    const missing = new Map<ParsedTask, string[]>();
    for (const task of parsed.filter((t) => !t.done)) {
      const absent: string[] = [];
      for (const p of task.paths) {
        const found = await exists(p);
        if (found === 'absent') {
          absent.push(p);
        } else if (found !== 'present') {
          untold.set(p, found);
        }
      }
      missing.set(task, absent);
    }
    for (const [p, kind] of untold) {
      problem(kind, spec, kind === 'outside_root' ? `${p} leads outside the spec directory: not followed` : `${p} cannot be looked at: not counted as missing`);
    }
    const scanned = scannedTasks(target.id, spec, parsed, (t) => missing.get(t) ?? [], limits);
    tasks.push(...scanned);
    const open = scanned.filter((t) => !t.done).length;
    result.specs.push({ name: spec, open, done: scanned.length - open, complete: whole });
    if (whole) {
      complete.add(spec);
    }
  }
  result.tasks = { open: tasks.filter((t) => !t.done).length, done: tasks.filter((t) => t.done).length };
  const sightings = tasks.map((t) => sightingOf(target, t)).filter((s): s is GapSighting => s !== null);
  const scope = scopeOf(target.id, tasks, { specs: complete, listing: listingComplete ? new Set(redacted) : null }, openSubjects);
  const observed = await deps.gaps.observe({ source: 'spec', runId, at: deps.clock(), scope }, sightings);
  const ids = (gaps: readonly { id: string }[]) => gaps.map((g) => g.id);
  result.gaps = { opened: ids(observed.opened), reopened: ids(observed.reopened), recurring: ids(observed.recurring), resolved: ids(observed.resolved) };
  return result;
}

/**
 * Scans the given spec targets in order, within {@link specScanLimits} over the whole scan:
 * records each target's sightings in the gap store (resolving what it no longer sees, see
 * {@link scopeOf}) and reports per target what it read, the gaps and the problems.
 */
export async function runSpecScan(input: SpecScanInput, deps: SpecScanDeps): Promise<SpecScanResult> {
  const limits: SpecScanLimits = { ...specScanLimits, ...deps.limits };
  const startedAt = deps.clock();
  const open = (await deps.gaps.list({ source: 'spec', status: openStatuses, limit: openSpecGapsRead })).map((g) => g.subject);
  const budget: Budget = { specs: limits.maxSpecs, tasks: limits.maxTasks };
  const targets: SpecScanTarget[] = [];
  deps.onProgress?.(0, input.targets.length);
  for (const target of input.targets) {
    deps.signal.throwIfAborted();
    targets.push(await scanTarget(target, deps, limits, budget, input.scanId, open));
    deps.onProgress?.(targets.length, input.targets.length);
  }
  const sum = (f: (t: SpecScanTarget) => number) => targets.reduce((s, t) => s + f(t), 0);
  return {
    scanId: input.scanId,
    startedAt: startedAt.toISOString(),
    finishedAt: deps.clock().toISOString(),
    trigger: input.trigger,
    limits: { maxSpecs: limits.maxSpecs, maxTasks: limits.maxTasks, maxFileBytes: limits.maxFileBytes, maxPathsPerTask: limits.maxPathsPerTask },
    targets,
    totals: {
      specs: sum((t) => t.specs.length),
      open: sum((t) => t.tasks.open),
      done: sum((t) => t.tasks.done),
      opened: sum((t) => t.gaps.opened.length),
      reopened: sum((t) => t.gaps.reopened.length),
      recurring: sum((t) => t.gaps.recurring.length),
      resolved: sum((t) => t.gaps.resolved.length),
      problems: sum((t) => t.problems.length),
    },
  };
}

export class UnknownSpecTargetsError extends Error {
  override readonly name = 'UnknownSpecTargetsError';
  constructor(readonly unknown: string[]) {
    super(`not spec targets of the inventory in force: ${unknown.join(', ')}`);
  }
}

/** The spec targets a scan reads: the named ones (each must be a spec target), else every spec target. */
export function selectSpecTargets<T extends { id: string; kind: string }>(targets: readonly T[], ids?: readonly string[]): Extract<T, { kind: 'spec' }>[] {
  const specs = targets.filter((t): t is Extract<T, { kind: 'spec' }> => t.kind === 'spec');
  if (ids === undefined) {
    return specs;
  }
  const byId = new Map(specs.map((t) => [t.id, t]));
  const unknown = ids.filter((id) => !byId.has(id));
  if (unknown.length > 0) {
    throw new UnknownSpecTargetsError(unknown);
  }
  return [...new Set(ids)].map((id) => byId.get(id) as Extract<T, { kind: 'spec' }>);
}
