/**
 * The vocabulary shared by the PII detectors, the overlap resolution and the redactor.
 *
 * Every detector pattern either starts only at the beginning of a run (a lookbehind rejects a start
 * inside one) or has bounded quantifiers, so a scan is linear in the input: no pattern can backtrack
 * catastrophically on long runs of digits, letters or whitespace.
 */

/** Everything the detector recognises; each kind gets its own placeholder prefix, e.g. `[IBAN_1]`. */
export const piiTypes = [
  'EMAIL',
  'PHONE',
  'IBAN',
  'CARD',
  'SSN',
  'IPV4',
  'IPV6',
  'AWS_ACCESS_KEY',
  'AWS_SECRET_KEY',
  'BEARER_TOKEN',
  'SECRET',
  'PRIVATE_KEY',
] as const;
export type PiiType = (typeof piiTypes)[number];

/** One finding: `text.slice(start, end) === value`. */
export interface PiiMatch {
  type: PiiType;
  start: number;
  end: number;
  /** The sensitive part only: for `Bearer <token>` the token, for `aws_secret_access_key = <key>` or `password=<value>` the key or value. */
  value: string;
}

const placeholderSource = `\\[(?:${piiTypes.join('|')})_[1-9]\\d*\\]`;
/** The placeholders a redactor writes (`[EMAIL_1]`), anywhere in a text. */
export const placeholderPattern = new RegExp(placeholderSource, 'g');
/** A text that is exactly one placeholder. */
export const wholePlaceholderPattern = new RegExp(`^${placeholderSource}$`);

/** How a detector reports a candidate: the characters `text.slice(start, end)`. */
export type Emit = (type: PiiType, start: number, end: number) => void;
