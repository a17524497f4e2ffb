import { describe, expect, it } from 'vitest';
import { defaultRoutingMatrix, parseRoutingOverrides } from '../../src/domain/llm/routing-matrix.js';
import { operationTypes } from '../../src/domain/llm/types.js';

describe('defaultRoutingMatrix', () => {
  it('routes every operation type as the runbook says', () => {
    expect(defaultRoutingMatrix).toEqual({
      emergency: { primary: 'direct', fallback: null, budgetMs: 5000 },
      infrastructure: { primary: 'direct', fallback: 'mcp', budgetMs: 10000 },
      meta_monitor: { primary: 'direct', fallback: 'mcp', budgetMs: 15000 },
      implementation: { primary: 'direct', fallback: 'mcp', budgetMs: 15000 },
      kiro_communication: { primary: 'mcp', fallback: 'direct', budgetMs: 30000 },
      standard: { primary: 'mcp', fallback: 'direct', budgetMs: 30000 },
      background: { primary: 'mcp', fallback: 'direct', budgetMs: 60000 },
    });
    expect(Object.keys(defaultRoutingMatrix).sort()).toEqual([...operationTypes].sort());
  });
});

describe('parseRoutingOverrides', () => {
  it('replaces only the routes it names', () => {
    const matrix = parseRoutingOverrides('emergency=direct/none/5000,standard=mcp/direct/20000');
    expect(matrix.standard).toEqual({ primary: 'mcp', fallback: 'direct', budgetMs: 20000 });
    expect(matrix.emergency).toEqual({ primary: 'direct', fallback: null, budgetMs: 5000 });
    expect(matrix.background).toEqual(defaultRoutingMatrix.background);
    expect(matrix.infrastructure).toEqual(defaultRoutingMatrix.infrastructure);
  });

  it('can swap primary and fallback and tolerates blanks', () => {
    const matrix = parseRoutingOverrides(' infrastructure = mcp / direct / 12000 , ');
    expect(matrix.infrastructure).toEqual({ primary: 'mcp', fallback: 'direct', budgetMs: 12000 });
  });

  it('gives the default matrix for an empty string', () => {
    expect(parseRoutingOverrides('')).toEqual(defaultRoutingMatrix);
  });

  it('does not change the default matrix', () => {
    parseRoutingOverrides('standard=direct/none/1000');
    expect(defaultRoutingMatrix.standard).toEqual({ primary: 'mcp', fallback: 'direct', budgetMs: 30000 });
  });

  it.each([
    ['emergency=direct/none', 'emergency=direct/none', 'operation=primary/fallback/budgetMs'],
    ['urgent=direct/mcp/100', 'urgent=direct/mcp/100', 'unknown operation "urgent"'],
    ['standard=local/direct/100', 'standard=local/direct/100', 'primary must be direct or mcp'],
    ['standard=mcp/bedrock/100', 'standard=mcp/bedrock/100', 'fallback must be direct, mcp or none'],
    ['standard=mcp/mcp/100', 'standard=mcp/mcp/100', 'fallback must differ from primary'],
    ['standard=mcp/direct/0', 'standard=mcp/direct/0', 'budgetMs must be a positive integer'],
    ['standard=mcp/direct/-5', 'standard=mcp/direct/-5', 'operation=primary/fallback/budgetMs'],
    [
      'standard=mcp/direct/100,standard=direct/none/50',
      'standard=direct/none/50',
      'given more than once',
    ],
  ])('rejects %s naming the bad entry', (spec, entry, expected) => {
    expect(() => parseRoutingOverrides(spec)).toThrowError(`routing override "${entry}"`);
    expect(() => parseRoutingOverrides(spec)).toThrowError(expected);
  });
});
