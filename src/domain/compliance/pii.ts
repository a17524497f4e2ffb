/**
 * PII and secret detection, and the reversible redaction every prompt goes through before it leaves
 * the process. Detection is pattern based with checksums where the format has one (IBAN mod-97,
 * card Luhn), so it is fast and deterministic but not a guarantee: see the limitations on
 * {@link detectPii}.
 */
import { isIPv6 } from 'node:net';

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
  'PRIVATE_KEY',
] as const;
export type PiiType = (typeof piiTypes)[number];

/** One finding: `text.slice(start, end) === value`. */
export interface PiiMatch {
  type: PiiType;
  start: number;
  end: number;
  /** The sensitive part only: for `Bearer <token>` the token, for `aws_secret_access_key = <key>` the key. */
  value: string;
}

/** How deep {@link Redactor.redactDeep} follows nested objects and arrays before it refuses. */
export const maxRedactDepth = 64;

/**
 * Which finding wins when two overlap: lower first, then the longer one.
 * Secrets and key blocks go first because a leak of them is the most damaging.
 */
const precedence: Record<PiiType, number> = {
  PRIVATE_KEY: 0,
  AWS_SECRET_KEY: 1,
  AWS_ACCESS_KEY: 1,
  BEARER_TOKEN: 1,
  EMAIL: 2,
  IBAN: 3,
  CARD: 3,
  SSN: 3,
  IPV6: 4,
  IPV4: 4,
  PHONE: 5,
};

/** Numeric findings that a UUID or an ISO date/time next to them must not produce. */
const guardedTypes: ReadonlySet<PiiType> = new Set<PiiType>(['PHONE', 'CARD', 'SSN', 'IPV4', 'IPV6']);

type Emit = (type: PiiType, start: number, end: number) => void;

// Every pattern below either starts only at the beginning of a run (a lookbehind rejects a start
// inside one) or has bounded quantifiers, so a scan is linear in the input: no pattern can backtrack
// catastrophically on long runs of digits, letters or whitespace.

const placeholderPattern = new RegExp(`\\[(?:${piiTypes.join('|')})_[1-9]\\d*\\]`, 'g');

const uuidPattern = /(?<![0-9A-Fa-f-])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![0-9A-Fa-f-])/g;
const isoDateTimePattern =
  /(?<![\w+\-./])\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?:[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:[.,]\d{1,9})?)?(?:Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)?)?/g;

const pemBeginPattern = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/g;
const pemEndPattern = /-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----/g;
/** Base64 body lines of a key block whose END line is missing (cut-off log line): real or escaped newlines. */
const pemTruncatedBodyPattern = /(?:(?:\r?\n|\\r?\\n)[A-Za-z0-9+/=]+)*/y;

const awsAccessKeyPattern = /(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])/g;
const awsSecretKeyPattern =
  /(?:aws[_\-.]?)?secret[_\-.]?(?:access[_\-.]?)?key["']?[ \t]*(?::|=>?)[ \t]*["']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])/gi;
const bearerPattern = /\bBearer[ \t]+([A-Za-z0-9\-._~+/]+=*)/gi;
const authorizationPattern =
  /\bAuthorization["']?[ \t]*[:=][ \t]*["']?(?:(Bearer|Basic|Token|Digest|Negotiate|ApiKey)[ \t]+)?([A-Za-z0-9\-._~+/]+=*)/gi;

const emailPattern = /(?<![\w.%+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g;
const ibanPattern = /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![A-Za-z0-9])/g;
/** A run of digit groups separated by single spaces or dashes; cards are searched inside it. */
const digitRunPattern = /(?<![\w.+-])\d+(?:[ -]\d+)*/g;
const ssnPattern = /(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])/g;
const ipv4Pattern = /(?<![\w.])\d+(?:\.\d+)+/g;
/** A run of hex digits, colons and dots with a colon among its first five characters. */
const ipv6CandidatePattern = /(?<![\w:.])(?=[0-9A-Fa-f]{0,4}:)[0-9A-Fa-f:][0-9A-Fa-f:.]*/g;
/** `+49 30 1234567`, `0049 (0)89 123456-78`, `+1 (415) 555-2671`, `+4930123456`. */
const phoneInternationalPattern =
  /(?<![\w+])(?:\+|00)[1-9]\d{0,14}(?:[ \-/]?\(\d{1,5}\)[ -]?\d{1,12}|[ \-/]\d{1,12}){0,6}/g;
/** German national numbers: trunk `0`, area code, then a separator: `030/1234567`, `0171 1234567`, `(089) 123456`. */
const phoneNationalPattern =
  /(?<![\w+.\-/:])(?:\(0[1-9]\d{1,4}\) ?|0[1-9]\d{1,4}(?: ?\/ ?|[ -]))\d{1,10}(?:[ -]\d{1,10}){0,4}/g;
/** German national numbers written without any separator: `0301234567`, `015112345678` (10 to 12 digits). */
const phoneNationalUnseparatedPattern = /(?<![\w+.\-/:,])0[1-9]\d{8,10}(?![\w]|[.,:\-/]\d)/g;

/**
 * Finds PII and secrets in `text`: e-mail addresses, phone numbers (German national and
 * international formats), IBANs (mod-97 verified), payment cards (13–19 digits, Luhn verified,
 * plausible issuer prefix), US SSNs, IPv4 and IPv6 addresses, AWS access key ids, AWS secret keys
 * introduced by their key name, bearer/Authorization tokens and PEM private key blocks.
 *
 * Findings never overlap: when two detectors claim the same characters, secrets and key blocks win,
 * then the more specific kind, then the longer match. Placeholders a {@link Redactor} wrote
 * (`[EMAIL_1]`) match no detector, so redacting twice changes nothing. Returned in text order.
 *
 * Known limitations: version strings of four numeric parts such as `1.2.3.4` are valid IPv4
 * addresses and are reported as such; a German national number without separators is recognised
 * only with 10 to 12 digits (`0301234567`), so shorter ones need a separator (`089 12345`); an IBAN in lower
 * or mixed case is recognised only with its country's registered length; an unlabelled
 * 40-character AWS secret key, passwords and generic API keys are not recognised.
 */
export function detectPii(text: string): PiiMatch[] {
  const candidates: PiiMatch[] = [];
  const emit: Emit = (type, start, end) => {
    if (end > start) {
      candidates.push({ type, start, end, value: text.slice(start, end) });
    }
  };
  detectPrivateKeys(text, emit);
  detectAwsKeys(text, emit);
  detectBearerTokens(text, emit);
  detectEmails(text, emit);
  detectIbans(text, emit);
  detectCards(text, emit);
  detectSsns(text, emit);
  detectIpv4(text, emit);
  detectIpv6(text, emit);
  detectPhones(text, emit);
  if (candidates.length === 0) {
    return [];
  }

  const taken = new Uint8Array(text.length);
  const guarded = new Uint8Array(text.length);
  for (const pattern of [uuidPattern, isoDateTimePattern]) {
    for (const m of text.matchAll(pattern)) {
      guarded.fill(1, m.index, m.index + m[0].length);
    }
  }

  candidates.sort(
    (a, b) => precedence[a.type] - precedence[b.type] || b.end - b.start - (a.end - a.start) || a.start - b.start,
  );
  const accepted: PiiMatch[] = [];
  for (const candidate of candidates) {
    if (anySet(taken, candidate.start, candidate.end)) {
      continue;
    }
    if (guardedTypes.has(candidate.type) && anySet(guarded, candidate.start, candidate.end)) {
      continue;
    }
    taken.fill(1, candidate.start, candidate.end);
    accepted.push(candidate);
  }
  return accepted.sort((a, b) => a.start - b.start);
}

function anySet(mask: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    if (mask[i] === 1) {
      return true;
    }
  }
  return false;
}

function detectPrivateKeys(text: string, emit: Emit): void {
  // Once no END line follows some position, none follows any later one: remember it so that many
  // BEGIN lines without an END stay linear.
  let noEndFrom = Number.POSITIVE_INFINITY;
  const begin = new RegExp(pemBeginPattern.source, 'g');
  let m: RegExpExecArray | null;
  while ((m = begin.exec(text)) !== null) {
    const headerEnd = m.index + m[0].length;
    let end: number | undefined;
    if (headerEnd < noEndFrom) {
      const endLine = new RegExp(pemEndPattern.source, 'g');
      endLine.lastIndex = headerEnd;
      const e = endLine.exec(text);
      if (e === null) {
        noEndFrom = headerEnd;
      } else {
        end = e.index + e[0].length;
      }
    }
    if (end === undefined) {
      // A truncated block: take the header and the base64 lines that follow it.
      const body = new RegExp(pemTruncatedBodyPattern.source, 'y');
      body.lastIndex = headerEnd;
      end = headerEnd + (body.exec(text)?.[0].length ?? 0);
    }
    emit('PRIVATE_KEY', m.index, end);
    begin.lastIndex = end;
  }
}

function detectAwsKeys(text: string, emit: Emit): void {
  for (const m of text.matchAll(awsAccessKeyPattern)) {
    emit('AWS_ACCESS_KEY', m.index, m.index + m[0].length);
  }
  for (const m of text.matchAll(awsSecretKeyPattern)) {
    emitTrailingGroup('AWS_SECRET_KEY', m, m[1], emit);
  }
}

function detectBearerTokens(text: string, emit: Emit): void {
  for (const m of text.matchAll(bearerPattern)) {
    const token = m[1] ?? '';
    // "Bearer authentication" in prose is not a token: real tokens are long, and contain digits
    // unless they are longer still.
    if ((token.length >= 12 && /\d/.test(token)) || token.length >= 16) {
      emitTrailingGroup('BEARER_TOKEN', m, token, emit);
    }
  }
  for (const m of text.matchAll(authorizationPattern)) {
    const scheme = m[1];
    const token = m[2] ?? '';
    const tokenLike = scheme === undefined ? token.length >= 16 && /\d/.test(token) : token.length >= 8;
    if (tokenLike) {
      emitTrailingGroup('BEARER_TOKEN', m, token, emit);
    }
  }
}

/** Emits a capture group that ends where its whole match ends. */
function emitTrailingGroup(type: PiiType, m: RegExpExecArray, group: string | undefined, emit: Emit): void {
  if (group === undefined) {
    return;
  }
  const end = m.index + m[0].length;
  emit(type, end - group.length, end);
}

function detectEmails(text: string, emit: Emit): void {
  for (const m of text.matchAll(emailPattern)) {
    // End at the last label that looks like a top-level domain (`a@b.example.com.1` → `a@b.example.com`).
    const at = m[0].indexOf('@');
    const labels = m[0].slice(at + 1).split('.');
    let length = m[0].length;
    for (let i = labels.length - 1; i >= 1; i--) {
      if (/^[A-Za-z]{2,}$/.test(labels[i] ?? '')) {
        emit('EMAIL', m.index, m.index + length);
        break;
      }
      length -= (labels[i] ?? '').length + 1;
    }
  }
}

/** IBAN length per country (SWIFT IBAN registry), for candidates written in lower or mixed case. */
const ibanLengths: Readonly<Record<string, number>> = Object.fromEntries(
  'AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DK18 DO28 EE20 EG29 ES24 FI18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 MC27 MD24 ME22 MK19 MR27 MT31 MU30 NL18 NO15 PK24 PL28 PS29 PT25 QA29 RO24 RS22 SA24 SC31 SE24 SI19 SK24 SM27 ST25 SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20'
    .split(' ')
    .map((e) => [e.slice(0, 2), Number(e.slice(2))]),
);

/**
 * Whether a candidate is an IBAN. Upper case needs the mod-97 checksum; lower or mixed case also
 * needs a registered country and its exact length, since hex digests and ids are lower case too.
 */
function isIbanCandidate(value: string): boolean {
  const compact = value.replaceAll(' ', '');
  const upper = compact.toUpperCase();
  if (upper !== compact && ibanLengths[upper.slice(0, 2)] !== upper.length) {
    return false;
  }
  return isValidIban(upper);
}

function detectIbans(text: string, emit: Emit): void {
  const pattern = new RegExp(ibanPattern.source, 'gi');
  let m: RegExpExecArray | null;
  while ((m = pattern.exec(text)) !== null) {
    // A spaced candidate may have swallowed a following word (`… 1332 CASH`): drop trailing groups
    // until the checksum holds.
    let value = m[0];
    while (!isIbanCandidate(value)) {
      const cut = value.lastIndexOf(' ');
      if (cut < 0) {
        value = '';
        break;
      }
      value = value.slice(0, cut);
    }
    if (value.length > 0) {
      emit('IBAN', m.index, m.index + value.length);
      pattern.lastIndex = m.index + value.length;
    }
  }
}

/** ISO 13616: country code, two check digits, up to 30 alphanumerics; mod-97 of the rearranged number is 1. */
function isValidIban(iban: string): boolean {
  if (iban.length < 15 || iban.length > 34 || !/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(iban)) {
    return false;
  }
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const ch of rearranged) {
    const code = ch.charCodeAt(0);
    const digits = code >= 65 ? String(code - 55) : ch;
    for (const d of digits) {
      remainder = (remainder * 10 + Number(d)) % 97;
    }
  }
  return remainder === 1;
}

interface DigitGroup {
  start: number;
  end: number;
  /** The separator in front of the group; empty for the first one. */
  separator: string;
}

function detectCards(text: string, emit: Emit): void {
  for (const m of text.matchAll(digitRunPattern)) {
    const groups: DigitGroup[] = [];
    for (const g of m[0].matchAll(/([ -]?)(\d+)/g)) {
      const start = m.index + g.index + (g[1] ?? '').length;
      groups.push({ start, end: start + (g[2] ?? '').length, separator: g[1] ?? '' });
    }
    const runEnd = m.index + m[0].length;
    let i = 0;
    while (i < groups.length) {
      const last = longestCardFrom(text, groups, i, runEnd);
      if (last === undefined) {
        i++;
        continue;
      }
      emit('CARD', groups[i]?.start ?? 0, groups[last]?.end ?? 0);
      i = last + 1;
    }
  }
}

/** Index of the last group of the longest card starting at group `first`, if any. */
function longestCardFrom(text: string, groups: DigitGroup[], first: number, runEnd: number): number | undefined {
  let best: number | undefined;
  let digits = '';
  const lengths: number[] = [];
  for (let j = first; j < groups.length; j++) {
    const group = groups[j];
    if (group === undefined) {
      break;
    }
    if (j > first + 1 && group.separator !== groups[first + 1]?.separator) {
      break;
    }
    digits += text.slice(group.start, group.end);
    lengths.push(group.end - group.start);
    if (digits.length > 19) {
      break;
    }
    const gluedToWord = group.end === runEnd && /[A-Za-z_]/.test(text.charAt(runEnd));
    if (digits.length >= 13 && !gluedToWord && isCardLayout(lengths) && hasIssuerPrefix(digits) && passesLuhn(digits)) {
      best = j;
    }
  }
  return best;
}

/** Unbroken, `4-4-4-4(-1..3)` style groups of four, or the Amex/Diners `4-6-5` and `4-6-4`. */
function isCardLayout(lengths: readonly number[]): boolean {
  if (lengths.length === 1) {
    return true;
  }
  const [a, b, c] = lengths;
  if (lengths.length === 3 && a === 4 && b === 6 && (c === 5 || c === 4)) {
    return true;
  }
  const lastLength = lengths[lengths.length - 1] ?? 0;
  return lengths.slice(0, -1).every((l) => l === 4) && lastLength >= 1 && lastLength <= 4;
}

/**
 * Major issuer ranges (Mastercard 2221–2720 and 5x, Amex/Diners/JCB 30 and 34–39, Visa 4,
 * Discover/UnionPay/Maestro 6). This keeps epoch milliseconds (`17…`) and nanoseconds out.
 */
function hasIssuerPrefix(digits: string): boolean {
  return /^(?:222[1-9]|22[3-9]\d|2[3-6]\d\d|27[01]\d|2720|3[04-9]|[456])/.test(digits);
}

function passesLuhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits.charAt(digits.length - 1 - i));
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) {
        d -= 9;
      }
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function detectSsns(text: string, emit: Emit): void {
  for (const m of text.matchAll(ssnPattern)) {
    emit('SSN', m.index, m.index + m[0].length);
  }
}

function detectIpv4(text: string, emit: Emit): void {
  for (const m of text.matchAll(ipv4Pattern)) {
    const parts = m[0].split('.');
    const end = m.index + m[0].length;
    if (
      parts.length === 4 &&
      parts.every((p) => p.length <= 3 && Number(p) <= 255) &&
      !/[A-Za-z_]/.test(text.charAt(end))
    ) {
      emit('IPV4', m.index, end);
    }
  }
}

function detectIpv6(text: string, emit: Emit): void {
  for (const m of text.matchAll(ipv6CandidatePattern)) {
    // The longest IPv6 text (embedded IPv4 included) is 45 characters; a run is at most one address.
    if (m[0].length > 64 || /[G-Zg-z_]/.test(text.charAt(m.index + m[0].length))) {
      continue;
    }
    // Sentence punctuation after an address ("… on fe80::1.") is not part of it.
    let value = m[0];
    while (value.length > 0 && !isIPv6(value) && /[.:]$/.test(value)) {
      value = value.slice(0, -1);
    }
    // A digit is required so that hex-only words around `::` (`Add::Face`) are not addresses.
    if (/\d/.test(value) && isIPv6(value)) {
      emit('IPV6', m.index, m.index + value.length);
    }
  }
}

function detectPhones(text: string, emit: Emit): void {
  scanPhones(text, phoneInternationalPattern, true, emit);
  scanPhones(text, phoneNationalPattern, false, emit);
  for (const m of text.matchAll(phoneNationalUnseparatedPattern)) {
    emit('PHONE', m.index, m.index + m[0].length);
  }
}

function scanPhones(text: string, source: RegExp, international: boolean, emit: Emit): void {
  const pattern = new RegExp(source.source, 'g');
  const [minDigits, maxDigits] = international ? [8, 15] : [8, 13];
  let m: RegExpExecArray | null;
  while ((m = pattern.exec(text)) !== null) {
    const length = phoneLength(text, m.index, m[0], international, minDigits, maxDigits);
    if (length === undefined) {
      // Candidates are short (bounded quantifiers), so retrying one character later stays linear.
      pattern.lastIndex = m.index + 1;
      continue;
    }
    emit('PHONE', m.index, m.index + length);
    pattern.lastIndex = m.index + length;
  }
}

/**
 * How much of a phone-shaped candidate is one phone number, or `undefined` if none.
 * Space-separated words are taken while the digit count stays within E.164 limits, and a word that
 * starts a new number (`00…`, `+…`, or a national `0…`) ends it, so two numbers in a row stay two.
 */
function phoneLength(
  text: string,
  start: number,
  candidate: string,
  international: boolean,
  minDigits: number,
  maxDigits: number,
): number | undefined {
  let digits = 0;
  let length = 0;
  let words = 0;
  let cut = false;
  for (const w of candidate.matchAll(/\S+/g)) {
    const word = w[0];
    const startsNumber = international ? /^(?:00|\+)/.test(word) : /^\(?0/.test(word);
    if (words > 0 && startsNumber && digits >= minDigits) {
      cut = true;
      break;
    }
    const wordDigits = countPhoneDigits(word, words === 0 && international);
    if (digits + wordDigits > maxDigits) {
      cut = true;
      break;
    }
    digits += wordDigits;
    length = w.index + word.length;
    words++;
  }
  if (digits < minDigits) {
    return undefined;
  }
  const unseparated = words === 1 && /^[+\d]+$/.test(candidate.slice(0, length));
  if (international && unseparated && (!candidate.startsWith('+') || digits < 10)) {
    return undefined;
  }
  if (!cut && length === candidate.length) {
    const next = text.slice(start + length, start + length + 2);
    if (/^(?:\w|[.,]\d)/.test(next)) {
      return undefined;
    }
  }
  return length;
}

/** Digits that belong to the number: without the `+`/`00` prefix and a `(0)` trunk marker. */
function countPhoneDigits(word: string, first: boolean): number {
  let w = word.replaceAll('(0)', '');
  if (first) {
    w = w.replace(/^(?:\+|00)/, '');
  }
  return w.replace(/\D/g, '').length;
}

/**
 * Replaces PII with typed, numbered placeholders (`[EMAIL_1]`, `[IBAN_2]`) and can put the
 * originals back into a model's answer. One instance per conversation: the same value always gets
 * the same placeholder, across calls, so the model can still tell two customers apart.
 *
 * The mapping lives only in this instance's memory and is never logged or serialised.
 */
export class Redactor {
  readonly #placeholders = new Map<string, string>();
  readonly #originals = new Map<string, string>();
  readonly #distinct = new Map<PiiType, number>();
  readonly #counts: Partial<Record<PiiType, number>> = {};

  /** `text` with every finding of {@link detectPii} replaced by its placeholder. Placeholders already in `text` stay as they are. */
  redact(text: string): string {
    const matches = detectPii(text);
    if (matches.length === 0) {
      return text;
    }
    const parts: string[] = [];
    let cursor = 0;
    for (const m of matches) {
      parts.push(text.slice(cursor, m.start), this.#placeholderFor(m.type, m.value));
      this.#counts[m.type] = (this.#counts[m.type] ?? 0) + 1;
      cursor = m.end;
    }
    parts.push(text.slice(cursor));
    return parts.join('');
  }

  /**
   * A copy of a JSON-like value with every string redacted, object keys included, at any depth.
   * An integer whose digits are PII (a card number stored as a number) becomes its placeholder
   * string; other numbers, booleans, `null` and `undefined` are kept; dates are copied. Other
   * objects are copied as plain objects of their own enumerable properties.
   * @throws TypeError on a circular structure, or one nested deeper than {@link maxRedactDepth}.
   */
  redactDeep(value: Readonly<Record<string, unknown>>): Record<string, unknown>;
  redactDeep(value: unknown): unknown;
  redactDeep(value: unknown): unknown {
    return this.#redactValue(value, new Set());
  }

  /** `text` with the placeholders this instance created replaced by their originals; unknown placeholders are left alone. */
  restore(text: string): string {
    return text.replace(placeholderPattern, (placeholder) => this.#originals.get(placeholder) ?? placeholder);
  }

  /** Findings by type so far, counting every occurrence (a value seen twice counts twice). */
  get counts(): Readonly<Partial<Record<PiiType, number>>> {
    return Object.freeze({ ...this.#counts });
  }

  #placeholderFor(type: PiiType, value: string): string {
    const key = `${type}\u0000${value}`;
    const known = this.#placeholders.get(key);
    if (known !== undefined) {
      return known;
    }
    const n = (this.#distinct.get(type) ?? 0) + 1;
    this.#distinct.set(type, n);
    const placeholder = `[${type}_${n}]`;
    this.#placeholders.set(key, placeholder);
    this.#originals.set(placeholder, value);
    return placeholder;
  }

  #redactValue(value: unknown, ancestors: Set<object>): unknown {
    if (typeof value === 'string') {
      return this.redact(value);
    }
    if ((typeof value === 'number' && Number.isSafeInteger(value)) || typeof value === 'bigint') {
      // A card or phone number stored as a number is still one: it becomes its placeholder.
      const digits = String(value);
      const redacted = this.redact(digits);
      return redacted === digits ? value : redacted;
    }
    if (typeof value !== 'object' || value === null) {
      return value;
    }
    if (value instanceof Date) {
      return new Date(value.getTime());
    }
    if (ancestors.has(value)) {
      throw new TypeError('redactDeep: circular structure');
    }
    // The ancestors are the nesting depth: refuse before the stack does, with nothing let through.
    if (ancestors.size >= maxRedactDepth) {
      throw new TypeError(`redactDeep: nested deeper than ${maxRedactDepth} levels`);
    }
    ancestors.add(value);
    try {
      if (Array.isArray(value)) {
        const items: readonly unknown[] = value;
        return items.map((item) => this.#redactValue(item, ancestors));
      }
      // Keys are text that leaves the process too. fromEntries defines properties, so an own
      // `__proto__` key stays a key.
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [this.redact(k), this.#redactValue(v, ancestors)]));
    } finally {
      ancestors.delete(value);
    }
  }
}
