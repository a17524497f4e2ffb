import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { dashboardNames } from '../domain/cloudwatch/dashboards.js';
import type { ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { bodyErrors, ErrorSchema, guard, jsonBody, jsonResponse, protectedErrors } from './openapi.js';

const DashboardsBody = z.object({}).strict().openapi('CloudWatchDashboardsBody');

const DashboardsSchema = z
  .object({
    region: z.string().openapi({ example: 'eu-central-1' }),
    dashboards: z.array(
      z.object({
        name: z.enum(dashboardNames),
        widgets: z.number().int().min(0),
        validationMessages: z.array(z.string()).openapi({ description: "CloudWatch's warnings about the body; empty when it took it as it is" }),
        url: z.string().openapi({ example: 'https://console.aws.amazon.com/cloudwatch/home?region=eu-central-1#dashboards:name=Bedrock-Support-Overview' }),
      }),
    ),
    publishing: z
      .object({
        cloudwatchEnabled: z.boolean().openapi({ description: 'CLOUDWATCH_ENABLED: the publishing schedule is declared' }),
        flag: z.boolean().openapi({ description: 'The cloudwatch-publishing feature flag' }),
      })
      .openapi({ description: 'Whether the metrics the dashboards show are being published: both must be true' }),
  })
  .openapi('CloudWatchDashboards');

/** `/admin/bedrock-support/cloudwatch/…`: CloudWatch's side of the service. */
export function cloudwatchRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(
    createRoute({
      method: 'post',
      path: '/cloudwatch/dashboards',
      summary: "Create or update the runbook's two CloudWatch dashboards (Bedrock-Support-Overview, Bedrock-Support-Operations) from the metrics the service publishes; in the audit trail before anything is sent. The body is optional",
      ...guard('administer'),
      request: { body: jsonBody(DashboardsBody, false) },
      responses: {
        200: jsonResponse(DashboardsSchema, 'Both dashboards as CloudWatch took them'),
        502: jsonResponse(ErrorSchema, 'CloudWatch refused a dashboard or could not be reached (code cloudwatch_error or cloudwatch_throttled; details: CloudWatch\'s code and HTTP status). The message names the dashboard and those already updated'),
        ...protectedErrors,
        ...bodyErrors,
      },
    }),
    async (c) => {
      const { region } = deps.cloudwatch;
      const dashboards = await deps.cloudwatch.dashboards({ by: c.get('principal').name, requestId: c.get('requestId') });
      const publishing = await deps.cloudwatch.publishing();
      return c.json(
        {
          region,
          dashboards: dashboards.map((d) => ({ ...d, url: `https://console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=${d.name}` })),
          publishing,
        },
        200,
      );
    },
  );
  return app;
}
