/** Support mode's lifecycle and health: `status`, `health`, `enable`, `activate`, `deactivate`, `shutdown`, `flags`. */
import { userInfo } from 'node:os';
import { Argument, type Command } from 'commander';
import { example, exitCodes, type Act, type Context } from './context.js';
import { admin } from './http.js';
import { fields, table, type Style } from './output.js';

/** The components support mode activates one by one (the runbook's names). */
export const components = ['infrastructure-auditor', 'meta-monitor', 'implementation-support'] as const;

interface ComponentState {
  active: boolean;
  since: string | null;
  by: string | null;
  queue?: { paused: boolean; workers: number; waiting: number; active: number };
}

/** `GET …/status`, the fields the CLI shows. */
export interface StatusAnswer {
  status: string;
  version: number;
  featureFlag: { enabled: boolean; updatedAt: string | null; updatedBy: string | null; reason: string | null };
  components: Record<string, ComponentState>;
  emergency: { at: string; reason: string; initiatedBy: string } | null;
  lastEmergency: { at: string; reason: string; initiatedBy: string; recoveredBy?: string; reactivatedAt?: string | null } | null;
  lastTransition: { at: string; action: string; by: string; reason: string | null } | null;
}

/** `GET /health/bedrock-support/detailed`, the fields the CLI shows. */
export interface HealthAnswer {
  status: string;
  mode: string;
  redis: { status: string; latencyMs: number | null };
  components: Record<string, { status: string; active: boolean; reasons: string[]; signals?: { workers?: number; waiting?: number; failedRatio?: number | null } }>;
  llm?: { status: string; reasons: string[]; paths: { path: string; configured: boolean; available: boolean; refusedBecause: string | null; breaker: { state: string } | null }[] };
}

interface TransitionAnswer {
  from: string;
  to: string;
  status: string;
  changed: boolean;
  components: Record<string, ComponentState>;
  version: number;
}

export function renderStatus(s: StatusAnswer, style: Style): string {
  const flag = s.featureFlag;
  let text = fields([
    ['Support mode', `${style.status(s.status)} (version ${s.version})`],
    ['Feature flag', `${flag.enabled ? 'enabled' : 'disabled'}${flag.updatedBy ? ` by ${flag.updatedBy} at ${flag.updatedAt}` : ''}`],
    ['Last change', s.lastTransition ? `${s.lastTransition.action} by ${s.lastTransition.by} at ${s.lastTransition.at}${s.lastTransition.reason ? ` (${s.lastTransition.reason})` : ''}` : null],
    ['Emergency', s.emergency ? `${style.paint('SHUT DOWN', 'red')} at ${s.emergency.at} by ${s.emergency.initiatedBy}: ${s.emergency.reason}` : null],
    ...(s.lastEmergency && !s.emergency ? [['Last emergency', `${s.lastEmergency.at}: ${s.lastEmergency.reason}${s.lastEmergency.reactivatedAt ? `, reactivated ${s.lastEmergency.reactivatedAt}` : ', not all components reactivated yet'}`] as [string, string]] : []),
  ]);
  text +=
    '\n' +
    table(
      ['component', 'active', 'since', 'by', 'queue', 'workers', 'waiting', 'running'],
      Object.entries(s.components).map(([name, c]) => [
        name,
        style.status(String(c.active)),
        c.since,
        c.by,
        c.queue ? (c.queue.paused ? 'paused' : 'running') : null,
        c.queue?.workers,
        c.queue?.waiting,
        c.queue?.active,
      ]),
      style,
    );
  return text;
}

export function renderHealth(h: HealthAnswer, style: Style): string {
  let text = fields([
    ['Health', style.status(h.status)],
    ['Support mode', style.status(h.mode)],
    ['Redis', `${h.redis.status}${h.redis.latencyMs !== null ? `, ${h.redis.latencyMs} ms` : ''}`],
  ]);
  text +=
    '\n' +
    table(
      ['component', 'status', 'active', 'workers', 'waiting', 'reasons'],
      Object.entries(h.components).map(([name, c]) => [name, style.status(c.status), c.active, c.signals?.workers, c.signals?.waiting, c.reasons.join('; ')]),
      style,
    );
  if (h.llm) {
    text +=
      '\n' +
      table(
        ['llm path', 'configured', 'available', 'breaker', 'why not'],
        h.llm.paths.map((p) => [p.path, p.configured, p.available, p.breaker?.state, p.refusedBecause]),
        style,
      );
  }
  return text;
}

function renderTransition(t: TransitionAnswer, style: Style): string {
  const line = t.changed ? `support mode ${style.status(t.from)} -> ${style.status(t.to)} (version ${t.version})` : `support mode already ${style.status(t.status)}: nothing changed`;
  const active = Object.entries(t.components)
    .map(([name, c]) => `${name} ${c.active ? style.status('active') : style.status('inactive')}`)
    .join(', ');
  return `${line}\ncomponents: ${active}\n`;
}

export function registerSupportMode(program: Command, ctx: Context, act: Act): void {
  example(
    program
      .command('status')
      .description("support mode's state, its components and their queues (GET /admin/bedrock-support/status)")
      .action(
        act(async (_o: object, cmd: Command) => {
          const { body } = await (await ctx.client(cmd)).get<StatusAnswer>(`${admin}/status`);
          ctx.emit(cmd, body, () => renderStatus(body, ctx.style));
          return exitCodes.ok;
        }),
      ),
    'bsm status',
    'bsm status --json | jq .status',
  );

  example(
    program
      .command('health')
      .description('every component\'s health with its reasons, Redis and the LLM paths (GET /health/bedrock-support/detailed); exit 1 when unhealthy (with --strict, also when degraded)')
      .option('--strict', 'exit 1 unless healthy')
      .action(
        act(async (o: { strict?: boolean }, cmd: Command) => {
          // 503 carries the health too (unhealthy): it is an answer, not an error.
          const { body } = await (await ctx.client(cmd)).get<HealthAnswer>('/health/bedrock-support/detailed', { accept: [503] });
          ctx.emit(cmd, body, () => renderHealth(body, ctx.style));
          return body.status === 'unhealthy' || (o.strict === true && body.status !== 'healthy') ? exitCodes.failed : exitCodes.ok;
        }),
      ),
    'bsm health',
    'bsm health --strict && echo all healthy',
  );

  example(
    program
      .command('enable')
      .description('turn support mode on: enabled and inactive, or active with --active (POST …/enable)')
      .option('--active', 'activate every component at once')
      .option('--reason <text>', 'why (kept in the audit trail, redacted)')
      .action(
        act(async (o: { active?: boolean; reason?: string }, cmd: Command) => {
          const { body } = await (await ctx.client(cmd)).post<TransitionAnswer>(`${admin}/enable`, { body: { active: o.active === true, ...(o.reason ? { reason: o.reason } : {}) } });
          ctx.emit(cmd, body, () => renderTransition(body, ctx.style));
          return exitCodes.ok;
        }),
      ),
    'bsm enable --reason "Initial activation"',
  );

  example(
    program
      .command('activate')
      .description('activate components: none named = all (POST …/activate with ["all"]); one = POST …/activate-component; several = POST …/activate')
      .addArgument(new Argument('[component...]', 'components to activate').choices([...components, 'all']))
      .option('--reason <text>', 'why (kept in the audit trail, redacted)')
      .action(
        act(async (names: string[], o: { reason?: string }, cmd: Command) => {
          const client = await ctx.client(cmd);
          const reason = o.reason ? { reason: o.reason } : {};
          const only = names.length === 1 && names[0] !== 'all' ? names[0] : undefined;
          const { body } =
            only !== undefined
              ? await client.post<TransitionAnswer>(`${admin}/activate-component`, { body: { component: only, ...reason } })
              : await client.post<TransitionAnswer>(`${admin}/activate`, { body: { components: names.length === 0 ? ['all'] : names, ...reason } });
          ctx.emit(cmd, body, () => renderTransition(body, ctx.style));
          return exitCodes.ok;
        }),
      ),
    'bsm activate infrastructure-auditor',
    'bsm activate --reason "Full production activation"',
  );

  example(
    program
      .command('deactivate')
      .description('deactivate components: none named = all (POST …/deactivate); their queues pause, jobs wait')
      .addArgument(new Argument('[component...]', 'components to deactivate').choices([...components, 'all']))
      .option('--reason <text>', 'why (kept in the audit trail, redacted)')
      .action(
        act(async (names: string[], o: { reason?: string }, cmd: Command) => {
          const { body } = await (await ctx.client(cmd)).post<TransitionAnswer>(`${admin}/deactivate`, { body: { components: names.length === 0 ? ['all'] : names, ...(o.reason ? { reason: o.reason } : {}) } });
          ctx.emit(cmd, body, () => renderTransition(body, ctx.style));
          return exitCodes.ok;
        }),
      ),
    'bsm deactivate meta-monitor --reason "noisy analyses"',
  );

  example(
    program
      .command('shutdown')
      .description('EMERGENCY shutdown: pauses every queue, cancels running jobs, disables the flag (POST …/emergency/shutdown). Recovery: bsm enable, then activate components one at a time')
      .requiredOption('--reason <text>', 'why (required; kept in the audit trail, redacted)')
      .option('--initiated-by <name>', 'who decided it (default: your user name)')
      .action(
        act(async (o: { reason: string; initiatedBy?: string }, cmd: Command) => {
          const initiatedBy = o.initiatedBy ?? userInfo().username;
          const { body } = await (await ctx.client(cmd)).post<TransitionAnswer>(`${admin}/emergency/shutdown`, { body: { reason: o.reason, initiated_by: initiatedBy, immediate: true } });
          ctx.emit(cmd, body, () => renderTransition(body, ctx.style));
          return exitCodes.ok;
        }),
      ),
    'bsm shutdown --reason "Emergency shutdown - compliance violation" --initiated-by alice',
  );

  example(
    program
      .command('flags')
      .description('every feature flag: state, who may change it, whether it is in effect (GET /admin/feature-flags)')
      .action(
        act(async (_o: object, cmd: Command) => {
          const { body } = await (await ctx.client(cmd)).get<{ flags: { name: string; enabled: boolean; default: boolean; changeableBy: string[]; inEffect: boolean; notInEffectBecause: string | null; updatedBy: string | null; updatedAt: string | null }[] }>('/admin/feature-flags');
          ctx.emit(cmd, body, () =>
            table(
              ['flag', 'enabled', 'default', 'changeable by', 'in effect', 'updated'],
              body.flags.map((f) => [f.name, ctx.style.status(String(f.enabled)), f.default, f.changeableBy.join(','), f.inEffect ? 'yes' : `no: ${f.notInEffectBecause ?? ''}`, f.updatedBy ? `${f.updatedBy} ${f.updatedAt ?? ''}` : null]),
              ctx.style,
            ),
          );
          return exitCodes.ok;
        }),
      ),
    'bsm flags --json',
  );
}

