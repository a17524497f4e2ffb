/** Query-string pieces several routes share: comma-separated enums and `15m` / `24h` / `7d` durations. */
import { z } from '@hono/zod-openapi';

/** A comma-separated list of `values` (absent or empty: undefined); an unknown one is named in the 400. */
export const csv = <T extends string>(values: readonly [T, ...T[]], name: string) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw === '') {
        return undefined;
      }
      const parts = raw.split(',').map((p) => p.trim());
      const unknown = parts.filter((p) => !(values as readonly string[]).includes(p));
      if (unknown.length > 0) {
        ctx.addIssue({ code: 'custom', message: `${name} must be among ${values.join(', ')}, got ${unknown.map((u) => `"${u.slice(0, 40)}"`).join(', ')}` });
        return z.NEVER;
      }
      return parts as T[];
    })
    .openapi({ description: `Comma-separated: ${values.join(', ')}` });

export const durationUnits = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A duration such as `15m`, `24h` or `7d` in ms; null when the text is not one. */
export function durationMs(text: string): number | null {
  const d = /^(\d{1,6})([mhd])$/.exec(text);
  return d ? Number(d[1]) * durationUnits[d[2] as keyof typeof durationUnits] : null;
}
