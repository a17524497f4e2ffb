import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMcpInvocation, UsageError } from '../../src/runtime/invocation.js';
import { mcpTarget } from '../../src/runtime/mcp-cli.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bsm-mcp-cli-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('bsm mcp arguments and target', () => {
  it('takes no arguments; --help asks for the usage', () => {
    expect(parseMcpInvocation([])).toBe(true);
    expect(parseMcpInvocation(['--help'])).toBe(false);
    expect(() => parseMcpInvocation(['http://elsewhere'])).toThrow(new UsageError('bsm mcp takes no arguments, got "http://elsewhere": BSM_URL and BSM_TOKEN say which service and which key'));
  });

  it('BSM_URL and BSM_TOKEN when given; else this machine on PORT with the admin token file', async () => {
    expect(await mcpTarget({ BSM_URL: 'https://bsm.example.com/', BSM_TOKEN: 'token-of-sixteen-chars', BSM_DATA_DIR: dir, PORT: 3000 })).toEqual({
      url: 'https://bsm.example.com',
      token: 'token-of-sixteen-chars',
    });
    await writeFile(join(dir, 'admin-token'), 'bsm_generated-admin-token-0123\n');
    expect(await mcpTarget({ BSM_URL: undefined, BSM_TOKEN: undefined, BSM_DATA_DIR: dir, PORT: 3456 })).toEqual({ url: 'http://127.0.0.1:3456', token: 'bsm_generated-admin-token-0123' });
    await expect(mcpTarget({ BSM_URL: undefined, BSM_TOKEN: undefined, BSM_DATA_DIR: join(dir, 'missing'), PORT: 3000 })).rejects.toThrow(UsageError);
  });
});
