import { describe, expect, it } from 'vitest';
import { spawnBsm, waitForExit } from '../helpers/fleet.js';

describe('start-up', () => {
  it('a bad setting stops start-up with one line naming it', async () => {
    const child = spawnBsm(['all'], { PORT: 'abc' });
    expect(await waitForExit(child)).toBe(2);
    expect(child.output()).toBe('bsm: PORT must be an integer 1-65535, got "abc"\n');
  });

  it('an unknown queue name is refused', async () => {
    const child = spawnBsm(['worker', '--queues', 'meta-monitor,nope'], {});
    expect(await waitForExit(child)).toBe(2);
    expect(child.output()).toContain('--queues must name queues among bedrock-support, infrastructure-auditor, meta-monitor, implementation-support, compliance, got "meta-monitor,nope"');
  });
});
