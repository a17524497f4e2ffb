/** Network detectors: IPv4 and IPv6 addresses. */
import { isIPv6 } from 'node:net';
import type { Emit } from './pii-types.js';

const ipv4Pattern = /(?<![\w.])\d+(?:\.\d+)+/g;
/** A run of hex digits, colons and dots with a colon among its first five characters. */
const ipv6CandidatePattern = /(?<![\w:.])(?=[0-9A-Fa-f]{0,4}:)[0-9A-Fa-f:][0-9A-Fa-f:.]*/g;

export function detectIpv4(text: string, emit: Emit): void {
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

export function detectIpv6(text: string, emit: Emit): void {
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
