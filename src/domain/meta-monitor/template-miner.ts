/**
 * Online log-template miner: groups failure messages by the template they were printed from.
 *
 * Each message is masked (`template-miner/mask.ts`: values become variables, runs of variables
 * collapse) and reduced to its constant tokens. Two messages share a cluster when their
 * constants are the same; a message whose constants differ from a cluster's in a few places
 * joins it when it has as many constants, the same first one, and at least `similarity` of
 * them in the same places; the places that differ become variables of the cluster. A cluster
 * whose template thereby becomes the same as, or more general than, another's absorbs it, so
 * handles handed out earlier may resolve to another cluster later.
 *
 * The first constant is never generalised: it is where templates of one program differ most
 * (`"GET` / `"POST`, `Active` / `Removable`), as in Drain's parse tree. Nor is a label (`memory:`,
 * `user=<*>`): it names the value after it, so messages with different labels differ.
 *
 * The share of agreeing constants (`similarity`, 0.78) lets one word in five differ (a user name
 * in `session closed for user <*>`) but not one in four. It is the middle of the range 0.76-0.80
 * that scored best on the LogHub 2k samples (bench/loghub.ts) as one value for every dataset.
 * Shorter messages that differ in one word only (`removing <name>`) merge once `distinctValues`
 * (8) of them differ there: names are many, kinds and states of one message are few. Any value
 * from 7 up to 12 scores the same on those samples.
 *
 * Bounded: a message is cut to `maxChars` and `maxTokens`, a message is compared with at most
 * `maxCandidates` clusters, and at most `maxClusters` clusters live. When that many live, a
 * message that matches none of them goes to one overflow cluster (template `OVERFLOW_TEMPLATE`),
 * so a flood of unlike messages cannot grow memory or hide the clusters already found.
 */
import { createHash } from 'node:crypto';
import { maskMessage, VARIABLE, type MaskedMessage, type MaskedToken } from './template-miner/mask.js';

export { VARIABLE } from './template-miner/mask.js';

/** The template of the cluster that takes messages once `maxClusters` clusters live. */
export const OVERFLOW_TEMPLATE = '<overflow>';

export interface TemplateMinerOptions {
  /**
   * Live clusters at most, the overflow cluster included. Default 5,000. Once that many live, a
   * message that matches none of them joins the overflow cluster (template `OVERFLOW_TEMPLATE`)
   * rather than the most similar one, whose template it would blur. Handles are never reused:
   * one number per cluster ever made stays behind for `resolve`.
   */
  maxClusters?: number;
  /** Share of constant tokens that must agree for a message to join a cluster of its shape. Default 0.78. */
  similarity?: number;
  /** Characters of a message looked at. Default 2,000. */
  maxChars?: number;
  /** Tokens of a message looked at. Default 256. */
  maxTokens?: number;
  /** Clusters of a shape compared with a new message at most, the most recent first. Default 256. */
  maxCandidates?: number;
  /** Distinct masked messages remembered for a fast exact match; cleared when full. Default 20,000. */
  cacheSize?: number;
  /** Distinct tokens whose classification is remembered; cleared when full. Default 50,000. */
  tokenMemo?: number;
  /**
   * Clusters that differ from each other in one word alone, too short for `similarity` to join
   * them, merge once this many of them exist: a place with that many different words holds
   * names (users, services), while a few words there are kinds or states of one program's
   * messages (`VM Started` / `VM Paused`, `enabled` / `disabled`). Default 8.
   */
  distinctValues?: number;
}

const defaults: Required<TemplateMinerOptions> = {
  maxClusters: 5_000,
  similarity: 0.78,
  maxChars: 2_000,
  maxTokens: 256,
  maxCandidates: 256,
  cacheSize: 20_000,
  tokenMemo: 50_000,
  distinctValues: 8,
};

interface Cluster {
  /** Constant tokens; null where messages differed (a variable learned from the stream). */
  constants: (string | null)[];
  /** Which constants are labels (see isLabel), worked out once. */
  labels: boolean[];
  /** Where variables stood between the constants (see MaskedMessage.gaps). */
  gaps: boolean[];
  count: number;
  bucket: string;
  pattern: string;
  overflow: boolean;
}

const separator = '\u0001';
const wildcard = '\u0002';

function patternOf(constants: readonly (string | null)[]): string {
  return constants.map((c) => c ?? wildcard).join(separator);
}

/** `memory:`, `user=<*>`, `rhost=`: a token that names a value rather than being one. */
function isLabel(token: string): boolean {
  return token.endsWith(':') || token.includes('=');
}

/** Clusters are compared only with messages of as many constants and the same first one. */
function bucketOf(constants: readonly (string | null)[]): string {
  return `${constants.length}${separator}${constants[0] ?? ''}`;
}

/** A stable cluster id from a template: `cl-` + first 12 hex chars of its SHA-256, so the same template keeps its id across analyses. */
export function clusterIdOf(template: string): string {
  return `cl-${createHash('sha256').update(template).digest('hex').slice(0, 12)}`;
}

export class TemplateMiner {
  private readonly options: Required<TemplateMinerOptions>;
  /** Union-find over handles: a merged cluster points to the one that absorbed it. */
  private readonly parent: number[] = [];
  private readonly byHandle: (Cluster | undefined)[] = [];
  private readonly patterns = new Map<string, number>();
  private readonly buckets = new Map<string, number[]>();
  private readonly cache = new Map<string, number>();
  /** Clusters that differ from each other in one place only, by that place and the rest of their pattern. */
  private readonly siblings = new Map<string, Set<number>>();
  private readonly tokens = new Map<string, MaskedToken>();
  private live = 0;
  private overflowHandle: number | undefined;

  constructor(options: TemplateMinerOptions = {}) {
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as TemplateMinerOptions;
    this.options = { ...defaults, ...given };
    if (!(this.options.maxClusters >= 1) || !(this.options.similarity > 0 && this.options.similarity <= 1)) {
      throw new RangeError('TemplateMiner: maxClusters must be >= 1 and similarity in (0, 1]');
    }
  }

  /** Assigns a message to a cluster; returns the cluster's handle (a small non-negative integer). */
  add(message: string): number {
    const masked = maskMessage(message, this.options, this.tokens);
    const key = masked.constants.join(separator);
    const known = this.cache.get(key) ?? this.patterns.get(key);
    if (known !== undefined) {
      return this.join(this.resolve(known), masked, key);
    }
    const bucket = bucketOf(masked.constants);
    const best = this.mostSimilar(bucket, masked.constants);
    if (best !== undefined && best.score >= this.options.similarity) {
      const handle = this.generalise(best.handle, masked.constants);
      return this.join(handle, masked, key);
    }
    if (this.live >= this.options.maxClusters - (this.overflowHandle === undefined ? 1 : 0)) {
      return this.join(this.overflow(), masked, key);
    }
    const handle = this.create(masked.constants, bucket);
    if (best !== undefined && best.differing === 1) {
      return this.join(this.sibling(best.handle, handle, best.slot), masked, key);
    }
    return this.join(handle, masked, key);
  }

  /** The canonical handle of a handle: clusters may merge as more messages arrive, so resolve handles after the last add. */
  resolve(handle: number): number {
    let root = handle;
    while (this.parent[root] !== undefined && this.parent[root] !== root) {
      root = this.parent[root] as number;
    }
    if (this.parent[root] === undefined) {
      throw new RangeError(`TemplateMiner: unknown handle ${handle}`);
    }
    // Path compression keeps later look-ups short.
    let at = handle;
    while (at !== root) {
      const next = this.parent[at] as number;
      this.parent[at] = root;
      at = next;
    }
    return root;
  }

  /** The cluster's template, variables shown as <*>. */
  template(handle: number): string {
    const cluster = this.byHandle[this.resolve(handle)] as Cluster;
    if (cluster.overflow) {
      return OVERFLOW_TEMPLATE;
    }
    const parts: string[] = [];
    const push = (part: string) => {
      if (!(part === VARIABLE && parts[parts.length - 1] === VARIABLE)) {
        parts.push(part);
      }
    };
    cluster.constants.forEach((c, i) => {
      if (cluster.gaps[i] === true) {
        push(VARIABLE);
      }
      push(c ?? VARIABLE);
    });
    if (cluster.gaps[cluster.constants.length] === true) {
      push(VARIABLE);
    }
    return parts.join(' ');
  }

  /** Every live (canonical) cluster with its template and message count. */
  clusters(): Array<{ handle: number; template: string; count: number }> {
    const out: Array<{ handle: number; template: string; count: number }> = [];
    this.byHandle.forEach((cluster, handle) => {
      if (cluster !== undefined) {
        out.push({ handle, template: this.template(handle), count: cluster.count });
      }
    });
    return out;
  }

  private join(handle: number, masked: MaskedMessage, key: string): number {
    const cluster = this.byHandle[handle] as Cluster;
    cluster.count++;
    if (!cluster.overflow) {
      masked.gaps.forEach((g, i) => {
        if (g) {
          cluster.gaps[i] = true;
        }
      });
    }
    if (this.cache.size >= this.options.cacheSize) {
      this.cache.clear();
    }
    this.cache.set(key, handle);
    return handle;
  }

  private create(constants: string[], bucket: string): number {
    const handle = this.parent.length;
    this.parent.push(handle);
    this.byHandle.push({ constants: [...constants], labels: constants.map(isLabel), gaps: new Array<boolean>(constants.length + 1).fill(false), count: 0, bucket, pattern: patternOf(constants), overflow: false });
    this.patterns.set(patternOf(constants), handle);
    const list = this.buckets.get(bucket);
    if (list) {
      list.push(handle);
    } else {
      this.buckets.set(bucket, [handle]);
    }
    this.live++;
    return handle;
  }

  private overflow(): number {
    if (this.overflowHandle === undefined) {
      const handle = this.parent.length;
      this.parent.push(handle);
      this.byHandle.push({ constants: [], labels: [], gaps: [], count: 0, bucket: '', pattern: '', overflow: true });
      this.live++;
      this.overflowHandle = handle;
    }
    return this.overflowHandle;
  }

  /** The cluster of the bucket whose constants agree with the message's in the largest share of places. */
  /**
   * The cluster of the bucket whose constants agree with the message's in the largest share of
   * places, among those the message could join or be a sibling of (at most the number of
   * differing places `similarity` allows, and at least one); others are left after that many.
   */
  private mostSimilar(bucket: string, constants: readonly string[]): { handle: number; score: number; differing: number; slot: number } | undefined {
    const list = this.buckets.get(bucket);
    const n = constants.length;
    if (!list || n === 0) {
      return undefined;
    }
    const allowed = Math.max(1, Math.floor(n * (1 - this.options.similarity) + 1e-9));
    let labels: boolean[] | undefined;
    let best: { handle: number; score: number; count: number; differing: number; slot: number } | undefined;
    const stop = Math.max(0, list.length - this.options.maxCandidates);
    for (let k = list.length - 1; k >= stop; k--) {
      const handle = list[k] as number;
      const cluster = this.byHandle[handle] as Cluster;
      let differing = 0;
      let slot = -1;
      for (let i = 0; i < n && differing <= allowed; i++) {
        const c = cluster.constants[i] ?? null;
        if (c === null || c === constants[i]) {
          continue;
        }
        // A label names the value after it; messages with different labels are different messages.
        labels ??= constants.map(isLabel);
        differing = cluster.labels[i] === true || labels[i] === true ? allowed + 1 : differing + 1;
        slot = i;
      }
      if (differing > allowed) {
        continue;
      }
      const score = (n - differing) / n;
      if (best === undefined || score > best.score || (score === best.score && cluster.count > best.count)) {
        best = { handle, score, count: cluster.count, differing, slot };
      }
    }
    return best;
  }

  /** Turns the places where the message differs into variables, then folds in clusters the template now covers. */
  private generalise(handle: number, constants: readonly (string | null)[]): number {
    const cluster = this.byHandle[handle] as Cluster;
    let changed = false;
    cluster.constants.forEach((c, i) => {
      if (c !== null && c !== constants[i]) {
        cluster.constants[i] = null;
        changed = true;
      }
    });
    if (!changed) {
      return handle;
    }
    this.patterns.delete(cluster.pattern);
    cluster.pattern = patternOf(cluster.constants);
    let root = handle;
    // The same clusters a message is compared with: the newest `maxCandidates` of the bucket.
    const list = (this.buckets.get(cluster.bucket) ?? []).slice(-this.options.maxCandidates);
    for (const other of list) {
      const candidate = this.byHandle[other];
      if (other !== root && candidate !== undefined && this.covers(this.byHandle[root] as Cluster, candidate)) {
        root = this.merge(root, other);
      }
    }
    const merged = this.byHandle[root] as Cluster;
    this.patterns.set(merged.pattern, root);
    return root;
  }

  /**
   * Records that cluster `added` was created differing from `near` in one place only. When
   * `distinctValues` clusters differ from each other in that one place alone, the place is a
   * variable and they merge: `removing ftp`, `removing echo`, ... (eight services) make
   * `removing <*>`, while `Instance spawned successfully.` and `Instance destroyed successfully.`
   * stay apart. Returns the canonical handle of `added`.
   */
  private sibling(near: number, added: number, slot: number): number {
    const shape = (this.byHandle[near] as Cluster).constants.map((c, i) => (i === slot ? null : c));
    const key = `${slot}${separator}${patternOf(shape)}`;
    if (this.siblings.size >= this.options.maxClusters) {
      this.siblings.clear();
    }
    const group = new Set([...(this.siblings.get(key) ?? [near]), added].map((h) => this.resolve(h)));
    if (group.size < this.options.distinctValues) {
      this.siblings.set(key, group);
      return added;
    }
    this.siblings.delete(key);
    const [first, ...rest] = [...group].sort((a, b) => a - b);
    let root = first as number;
    for (const other of rest) {
      const live = this.resolve(other);
      if (live !== root) {
        root = this.generalise(root, (this.byHandle[live] as Cluster).constants);
      }
    }
    return this.resolve(added);
  }

  private covers(general: Cluster, specific: Cluster): boolean {
    return general.constants.every((c, i) => c === null || c === specific.constants[i]);
  }

  /** Merges two clusters of one bucket; the older handle survives so early handles stay canonical. */
  private merge(a: number, b: number): number {
    const [keep, drop] = a < b ? [a, b] : [b, a];
    const kept = this.byHandle[keep] as Cluster;
    const dropped = this.byHandle[drop] as Cluster;
    kept.constants = kept.constants.map((c, i) => (c === null || c !== dropped.constants[i] ? null : c));
    kept.gaps = kept.gaps.map((g, i) => g || dropped.gaps[i] === true);
    kept.count += dropped.count;
    this.patterns.delete(kept.pattern);
    this.patterns.delete(dropped.pattern);
    kept.pattern = patternOf(kept.constants);
    const list = this.buckets.get(dropped.bucket);
    if (list) {
      const at = list.indexOf(drop);
      if (at >= 0) {
        list.splice(at, 1);
      }
    }
    this.byHandle[drop] = undefined;
    this.parent[drop] = keep;
    this.live--;
    return keep;
  }
}
