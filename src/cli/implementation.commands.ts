/** Implementation support: `gaps`, `remediate`, `approve`, `reject`, `backlog`. */
import { Option, type Command } from 'commander';
import { example, exitCodes, type Act, type Context } from './context.js';
import { admin } from './http.js';
import { table } from './output.js';

interface Gap {
  id: string;
  source: string;
  type: string;
  severity: string;
  status: string;
  title: string;
  count: number;
  lastSeenAt: string;
}

interface RemediationRequest {
  id: string;
  gapId: string;
  suggestion: string;
  risk: string;
  status: string;
  needsApproval: boolean;
  description: string;
  changes: { target: string; from: unknown; to: unknown }[];
}

function renderRequest(r: RemediationRequest): string {
  return (
    `remediation ${r.id} for ${r.gapId}: ${r.suggestion}, ${r.risk} risk, ${r.status}${r.needsApproval ? ' (waits for an approver: bsm approve ' + r.id + ')' : ''}\n` +
    `${r.description}\n` +
    r.changes.map((c) => `  ${c.target}: ${JSON.stringify(c.from)} -> ${JSON.stringify(c.to)}\n`).join('')
  );
}

export function registerImplementation(program: Command, ctx: Context, act: Act): void {
  example(
    program
      .command('gaps')
      .description('gaps from audits, the meta-monitor and people, newest sighting first (GET …/implementation/gaps)')
      .option('--open', 'only gaps not resolved or dismissed')
      .option('--status <list>', 'comma-separated statuses')
      .option('--severity <list>', 'comma-separated severities (critical,high,medium,low)')
      .addOption(new Option('--source <source>', 'one source').choices(['audit', 'meta-monitor', 'spec', 'manual']))
      .option('--limit <n>', 'at most this many (1-1000)')
      .action(
        act(async (o: { open?: boolean; status?: string; severity?: string; source?: string; limit?: string }, cmd: Command) => {
          const { body } = await (await ctx.client(cmd)).get<{ count: number; gaps: Gap[] }>(`${admin}/implementation/gaps`, {
            query: { open: o.open === true ? 'true' : undefined, status: o.status, severity: o.severity, source: o.source, limit: o.limit },
          });
          ctx.emit(cmd, body, () =>
            body.count === 0
              ? 'no gaps\n'
              : table(['gap', 'severity', 'type', 'status', 'source', 'seen', 'last seen', 'title'], body.gaps.map((g) => [g.id, ctx.style.status(g.severity), g.type, g.status, g.source, g.count, g.lastSeenAt, g.title]), ctx.style),
          );
          return exitCodes.ok;
        }),
      ),
    'bsm gaps --open --severity critical,high',
  );

  example(
    program
      .command('remediate')
      .description("remediate a gap with one of its suggested actions (POST …/implementation/remediate): planned only, or run with --auto-resolve (low risk at once, higher after an approval)")
      .argument('<gap>', 'the gap id (gap-…)')
      .option('--auto-resolve', 'run the action, not only plan it')
      .addOption(new Option('--priority <priority>', 'job priority').choices(['high', 'medium', 'low']))
      .option('--action <key>', "one of the gap's suggestions by its key (default: the first)")
      .option('--note <text>', 'why (redacted before it is stored)')
      .action(
        act(async (gap: string, o: { autoResolve?: boolean; priority?: string; action?: string; note?: string }, cmd: Command) => {
          const { body } = await (await ctx.client(cmd)).post<{ request: RemediationRequest }>(`${admin}/implementation/remediate`, {
            body: { gap_id: gap, auto_resolve: o.autoResolve === true, ...(o.priority ? { priority: o.priority } : {}), ...(o.action ? { action: o.action } : {}), ...(o.note ? { note: o.note } : {}) },
          });
          ctx.emit(cmd, body, () => renderRequest(body.request));
          return exitCodes.ok;
        }),
      ),
    'bsm remediate gap-1a2b3c4d5e6f7a8b --auto-resolve --priority high',
  );

  for (const decision of ['approve', 'reject'] as const) {
    example(
      program
        .command(decision)
        .description(`${decision} a remediation that waits for an approver (POST …/implementation/approvals/{id}); needs the approve permission, and under the two-person rule another key than the requester's`)
        .argument('<id>', 'the request id (act-…)')
        .option('--reason <text>', 'why (redacted before it is stored)')
        .action(
          act(async (id: string, o: { reason?: string }, cmd: Command) => {
            const { body } = await (await ctx.client(cmd)).post<RemediationRequest | { request: RemediationRequest }>(`${admin}/implementation/approvals/${encodeURIComponent(id)}`, {
              body: { decision, ...(o.reason ? { reason: o.reason } : {}) },
            });
            const request = 'request' in body ? body.request : body;
            ctx.emit(cmd, body, () => `${decision === 'approve' ? 'approved' : 'rejected'}: ${renderRequest(request)}`);
            return exitCodes.ok;
          }),
        ),
      `bsm ${decision} act-1a2b3c4d5e6f7a8b --reason "checked the plan"`,
    );
  }

  example(
    program
      .command('backlog')
      .description('the ranked backlog: open gaps and hand items, each with its score, blockers and sprint (GET …/implementation/backlog)')
      .option('--capacity <points>', 'points per sprint (1-1000, default 10)')
      .action(
        act(async (o: { capacity?: string }, cmd: Command) => {
          const { body } = await (await ctx.client(cmd)).get<{
            counts: { total: number };
            capacity: number;
            items: { rank: number; id: string; origin: string; severity: string; type: string; score: number; rankScore: number; effort: number; sprint: number | null; blockedBy: { id: string; open: boolean }[]; title: string }[];
            cycles: unknown[];
          }>(`${admin}/implementation/backlog`, { query: { capacity: o.capacity } });
          ctx.emit(cmd, body, () =>
            `${body.counts.total} item(s), ${body.capacity} points per sprint${body.cycles.length > 0 ? `, ${body.cycles.length} cycle(s) of blockers` : ''}\n` +
            (body.items.length === 0
              ? ''
              : '\n' +
                table(
                  ['rank', 'id', 'severity', 'type', 'score', 'rank score', 'effort', 'sprint', 'blocked by', 'title'],
                  body.items.map((i) => [i.rank, i.id, ctx.style.status(i.severity), i.type, i.score, i.rankScore, i.effort, i.sprint, i.blockedBy.filter((b) => b.open).map((b) => b.id).join(','), i.title]),
                  ctx.style,
                )),
          );
          return exitCodes.ok;
        }),
      ),
    'bsm backlog --capacity 13',
  );
}
