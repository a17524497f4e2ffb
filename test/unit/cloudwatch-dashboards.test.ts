import { describe, expect, it } from 'vitest';
import { AuditUnavailableError } from '../../src/domain/audit-trail/ports.js';
import { applyDashboards, dashboardBodies, dashboardNames, type MetricEntry } from '../../src/domain/cloudwatch/dashboards.js';
import { metricCatalog } from '../../src/domain/cloudwatch/metrics.js';
import { CloudWatchRequestError } from '../../src/domain/cloudwatch/ports.js';
import { queueNames } from '../../src/domain/queue-names.js';

/** The metric references of a widget's `metrics`: [namespace, name, dimensions], and expressions with the ids they use. */
function references(entries: MetricEntry[]) {
  const metrics: { namespace: string; name: string; dimensions: string[]; id?: string }[] = [];
  const expressions: { id: string; expression: string }[] = [];
  for (const entry of entries) {
    const parts: unknown[] = entry;
    const isObject = (e: unknown): e is Record<string, unknown> => typeof e === 'object' && e !== null;
    const first = parts[0];
    if (isObject(first) && 'expression' in first) {
      expressions.push({ id: String(first.id), expression: String(first.expression) });
      continue;
    }
    const strings = parts.filter((e): e is string => typeof e === 'string');
    const options = parts.find(isObject);
    metrics.push({ namespace: strings[0] ?? '', name: strings[1] ?? '', dimensions: strings.slice(2), ...(typeof options?.id === 'string' ? { id: options.id } : {}) });
  }
  return { metrics, expressions };
}

describe('the dashboards', () => {
  it('are the runbook two, every metric widget shows metrics of the catalog as the publisher sends them, on a 24-column grid', () => {
    const bodies = dashboardBodies({ region: 'eu-central-1' });
    expect(Object.keys(bodies)).toEqual(['Bedrock-Support-Overview', 'Bedrock-Support-Operations']);
    for (const name of dashboardNames) {
      const cells = new Set<string>();
      for (const w of bodies[name].widgets) {
        expect(w.x + w.width, `${name}: ${JSON.stringify(w.properties.title)}`).toBeLessThanOrEqual(24);
        for (let x = w.x; x < w.x + w.width; x += 1) {
          for (let y = w.y; y < w.y + w.height; y += 1) {
            expect(cells.has(`${x},${y}`), `${name}: widgets overlap at ${x},${y}`).toBe(false);
            cells.add(`${x},${y}`);
          }
        }
        if (w.type !== 'metric') {
          continue;
        }
        expect(w.properties.region).toBe('eu-central-1');
        const { metrics, expressions } = references(w.properties.metrics as MetricEntry[]);
        expect(metrics.length, String(w.properties.title)).toBeGreaterThan(0);
        for (const m of metrics) {
          const def = metricCatalog[m.name as keyof typeof metricCatalog];
          expect(def, m.name).toBeDefined();
          expect(m.namespace).toBe(def.namespace);
          if (m.dimensions.length > 0) {
            expect(def.series, m.name).toBe('component-and-total');
            expect(m.dimensions[0]).toBe('Component');
            expect(queueNames).toContain(m.dimensions[1]);
          }
        }
        const ids = new Set(metrics.flatMap((m) => (m.id === undefined ? [] : [m.id])));
        for (const e of expressions) {
          for (const used of e.expression.match(/\b[a-z]\w*\b/g) ?? []) {
            expect(ids.has(used), `${e.expression} uses ${used}`).toBe(true);
          }
        }
      }
    }
    const titles = (name: (typeof dashboardNames)[number]) => bodies[name].widgets.map((w) => String(w.properties.title ?? w.properties.markdown));
    expect(titles('Bedrock-Support-Overview').join('\n')).toMatch(/activation status[^]*health matrix[^]*success rates[^]*Performance[^]*Error rate trends/);
    expect(titles('Bedrock-Support-Operations').join('\n')).toMatch(/audit results[^]*Meta-monitoring insights[^]*Implementation support activities[^]*Routing decision analytics[^]*Cost tracking/);
  });

  it('link the API routes at BSM_PUBLIC_URL when it is set, and name them otherwise', () => {
    const linked = JSON.stringify(dashboardBodies({ region: 'eu-west-1', publicUrl: 'https://bsm.example.com/' }));
    expect(linked).toContain('[GET /admin/bedrock-support/costs](https://bsm.example.com/admin/bedrock-support/costs)');
    expect(JSON.stringify(dashboardBodies({ region: 'eu-west-1' }))).toContain('`GET /admin/bedrock-support/costs`');
  });

  it('are recorded in the audit trail before anything is sent; a refused one is named, with those already updated', async () => {
    const sent: string[] = [];
    const entries: unknown[] = [];
    const audit = { append: (e: unknown) => Promise.resolve(void entries.push(e)) };
    const outcome = await applyDashboards(
      { api: { putDashboard: (name) => (sent.push(name), Promise.resolve({ validationMessages: [] })) }, audit },
      { by: 'admin-key', requestId: 'r-1' },
      { region: 'eu-central-1' },
    );
    expect(outcome.map((o) => o.name)).toEqual(['Bedrock-Support-Overview', 'Bedrock-Support-Operations']);
    expect(entries).toEqual([
      { actor: 'admin-key', action: 'cloudwatch.dashboards', target: 'Bedrock-Support-Overview,Bedrock-Support-Operations', details: { dashboards: [...dashboardNames], region: 'eu-central-1', requestId: 'r-1' } },
    ]);

    sent.length = 0;
    const noTrail = applyDashboards(
      { api: { putDashboard: (name) => (sent.push(name), Promise.resolve({ validationMessages: [] })) }, audit: { append: () => Promise.reject(new Error('down')) } },
      { by: 'admin-key' },
      { region: 'eu-central-1' },
    );
    await expect(noTrail).rejects.toBeInstanceOf(AuditUnavailableError);
    expect(sent).toEqual([]);

    const refused = applyDashboards(
      {
        api: { putDashboard: (name) => (name === 'Bedrock-Support-Operations' ? Promise.reject(new CloudWatchRequestError('bad body', 'InvalidParameterInput', 400)) : Promise.resolve({ validationMessages: [] })) },
        audit,
      },
      { by: 'admin-key' },
      { region: 'eu-central-1' },
    );
    await expect(refused).rejects.toThrow('PutDashboard Bedrock-Support-Operations failed (Bedrock-Support-Overview updated): bad body');
  });
});
