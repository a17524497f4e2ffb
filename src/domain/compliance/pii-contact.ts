/** Contact detectors: e-mail addresses and phone numbers (German national, US national and international formats). */
import type { Emit } from './pii-types.js';

const emailPattern = /(?<![\w.%+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g;
/** `+49 30 1234567`, `0049 (0)89 123456-78`, `+1 (415) 555-2671`, `+4930123456`. */
const phoneInternationalPattern =
  /(?<![\w+])(?:\+|00)[1-9]\d{0,14}(?:[ \-/]?\(\d{1,5}\)[ -]?\d{1,12}|[ \-/]\d{1,12}){0,6}/g;
/** German national numbers: trunk `0`, area code, then a separator: `030/1234567`, `0171 1234567`, `(089) 123456`. */
const phoneNationalPattern =
  /(?<![\w+.\-/:])(?:\(0[1-9]\d{1,4}\) ?|0[1-9]\d{1,4}(?: ?\/ ?|[ -]))\d{1,10}(?:[ -]\d{1,10}){0,4}/g;
/** German national numbers written without any separator: `0301234567`, `015112345678` (10 to 12 digits). */
const phoneNationalUnseparatedPattern = /(?<![\w+.\-/:,])0[1-9]\d{8,10}(?![\w]|[.,:\-/]\d)/g;
const nanpArea = String.raw`(?!\d11)[2-9][0-8]\d`;
const nanpExchange = String.raw`(?![2-9]11)[2-9]\d{2}`;
/**
 * US (NANP) numbers with separators: `(415) 555-2671`, `415-555-2671`, `415.555.2671`, optionally
 * after `1` or `+1` (`1-415-555-2671`, `+1.415.555.2671`). The area code and the exchange start with
 * 2–9 and are not N11 codes, the area code's middle digit is not 9, and dashes or dots must be the
 * same throughout, so dates, versions and ranges do not match. Ten digits without separators and
 * numbers separated only by spaces are not taken: job ids and counts look the same.
 */
const phoneUsPattern = new RegExp(
  String.raw`(?<![\w+.\-/])(?:\+1[ .-]?|1[ .-])?(?:\(${nanpArea}\) ?${nanpExchange}[-. ]?|${nanpArea}([-.])${nanpExchange}\1)\d{4}(?![\w-]|[.,]\d)`,
  'g',
);

export function detectEmails(text: string, emit: Emit): void {
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

export function detectPhones(text: string, emit: Emit): void {
  scanPhones(text, phoneInternationalPattern, true, emit);
  scanPhones(text, phoneNationalPattern, false, emit);
  for (const pattern of [phoneNationalUnseparatedPattern, phoneUsPattern]) {
    for (const m of text.matchAll(pattern)) {
      emit('PHONE', m.index, m.index + m[0].length);
    }
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
