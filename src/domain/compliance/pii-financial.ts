/** Financial detectors: IBANs (mod-97 verified) and payment cards (Luhn verified, plausible issuer prefix). */
import type { Emit } from './pii-types.js';

const ibanPattern = /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![A-Za-z0-9])/g;
/** A run of digit groups separated by single spaces or dashes; cards are searched inside it. */
const digitRunPattern = /(?<![\w.+-])\d+(?:[ -]\d+)*/g;

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

export function detectIbans(text: string, emit: Emit): void {
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

export function detectCards(text: string, emit: Emit): void {
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
