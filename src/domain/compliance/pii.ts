/**
 * PII and secret detection, and the reversible redaction every prompt goes through before it leaves
 * the process. Detection is pattern based with checksums where the format has one (IBAN mod-97,
 * card Luhn), so it is fast and deterministic but not a guarantee: see the limitations on
 * {@link detectPii}.
 *
 * This is the public entry; the detectors live one family a file (`pii-contact`, `pii-financial`,
 * `pii-identity`, `pii-network`, `pii-secrets`), with the overlap resolution in `pii-overlap` and
 * the redactor in `pii-redactor`.
 */
export { piiTypes } from './pii-types.js';
export type { PiiMatch, PiiType } from './pii-types.js';
export { detectPii } from './pii-detect.js';
export { maxRedactDepth, Redactor } from './pii-redactor.js';
