/** Identity-number detectors: US social security numbers. */
import type { Emit } from './pii-types.js';

const ssnPattern = /(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])/g;

export function detectSsns(text: string, emit: Emit): void {
  for (const m of text.matchAll(ssnPattern)) {
    emit('SSN', m.index, m.index + m[0].length);
  }
}
