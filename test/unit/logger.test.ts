import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';

/** A logger writing into an array, one raw line per entry. */
function capture(level = 'info', base: Record<string, unknown> = {}) {
  const lines: string[] = [];
  const logger = createLogger(level, base, { write: (line: string) => lines.push(line) });
  return { logger, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('log format', () => {
  it('writes JSON with the level as an upper-case name and a component on the process logger\'s lines', () => {
    const { logger, lines, parsed } = capture('info', { role: 'api' });
    logger.warn({ setting: 'X' }, 'careful');
    logger.error('broken');
    expect(lines[0]).toContain('"level":"WARN"');
    expect(parsed()).toEqual([
      expect.objectContaining({ level: 'WARN', component: 'bsm', role: 'api', setting: 'X', msg: 'careful', pid: process.pid, time: expect.stringMatching(/Z$/) as unknown }),
      expect.objectContaining({ level: 'ERROR', component: 'bsm', msg: 'broken' }),
    ]);
  });

  it('a child bound to a component names its own, once, and so do its children', () => {
    const { logger, lines, parsed } = capture();
    const queue = logger.child({ component: 'meta-monitor', queue: 'meta-monitor' });
    queue.info('worker started');
    queue.child({ jobId: '7' }).warn('job failed');
    logger.child({ requestId: 'r1' }).info('no component bound');
    for (const line of lines) {
      // pino writes a bound key again rather than replace it: exactly one `component` per line.
      expect(line.match(/"component":/g), line).toHaveLength(1);
    }
    expect(parsed().map((l) => [l.level, l.component])).toEqual([
      ['INFO', 'meta-monitor'],
      ['WARN', 'meta-monitor'],
      ['INFO', 'bsm'],
    ]);
  });

  it('keeps LOG_LEVEL filtering', () => {
    const { logger, lines } = capture('warn');
    logger.info('dropped');
    logger.debug('dropped');
    logger.fatal('kept');
    expect(lines.map((l) => (JSON.parse(l) as { level: string }).level)).toEqual(['FATAL']);
  });
});
