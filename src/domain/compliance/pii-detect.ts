/** The PII and secret detector: every detector family, then the overlap resolution. */
import { detectEmails, detectPhones } from './pii-contact.js';
import { detectCards, detectIbans } from './pii-financial.js';
import { detectSsns } from './pii-identity.js';
import { detectIpv4, detectIpv6 } from './pii-network.js';
import { resolveOverlaps } from './pii-overlap.js';
import { detectAwsKeys, detectBearerTokens, detectPrivateKeys, detectSecretPairs } from './pii-secrets.js';
import type { Emit, PiiMatch } from './pii-types.js';

/**
 * Finds PII and secrets in `text`: e-mail addresses, phone numbers (German national, US national
 * with separators, and international formats), IBANs (mod-97 verified), payment cards (13–19
 * digits, Luhn verified, plausible issuer prefix), US SSNs, IPv4 and IPv6 addresses, AWS access key
 * ids, AWS secret keys introduced by their key name, bearer/Authorization tokens, PEM private key
 * blocks, and the values of pairs whose key names a secret (`password=…`, `"api_key": "…"`,
 * `token: …`; the key stays).
 *
 * Findings never overlap: when two detectors claim the same characters, secrets and key blocks win,
 * then the more specific kind, then the longer match. Placeholders a `Redactor` wrote
 * (`[EMAIL_1]`) match no detector, so redacting twice changes nothing. Returned in text order.
 *
 * Known limitations: version strings of four numeric parts such as `1.2.3.4` are valid IPv4
 * addresses and are reported as such; a German national number without separators is recognised
 * only with 10 to 12 digits (`0301234567`), so shorter ones need a separator (`089 12345`); a US
 * number needs `-`, `.` or its area code in parentheses (`415 555 2671` and `4155552671` are not
 * taken); an IBAN in lower or mixed case is recognised only with its country's registered length;
 * an unlabelled 40-character AWS secret key, and passwords or API keys that no key name introduces
 * (`--password hunter2`, `https://user:pass@host`, a bare `sk-…` key) are not recognised; any value
 * after such a key name is redacted, also in prose (`Token: expired`).
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
  detectSecretPairs(text, emit);
  detectEmails(text, emit);
  detectIbans(text, emit);
  detectCards(text, emit);
  detectSsns(text, emit);
  detectIpv4(text, emit);
  detectIpv6(text, emit);
  detectPhones(text, emit);
  return resolveOverlaps(text, candidates);
}
