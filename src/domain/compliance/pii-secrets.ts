/**
 * Secret detectors: PEM private key blocks, AWS access key ids and secret keys, bearer/Authorization
 * tokens, and the values of `password=…`, `token: …`, `"api_key": "…"` style pairs.
 */
import { wholePlaceholderPattern } from './pii-types.js';
import type { Emit, PiiType } from './pii-types.js';

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
/**
 * A key that names a secret (`password`, `passwd`, `pwd`, `passphrase`, `secret`, `secret_key`,
 * `token`, `access_token`, `api_key`, `apikey`, `API key`, also at the end of a longer name: `DB_PASSWORD`,
 * `clientSecret`, `X-Api-Key`), an optional closing quote (also JSON-escaped), `:`, `=`, `:=` or
 * `=>`, then the value: double-quoted with JSON escapes (group 1), single-quoted (group 2), quoted
 * with escaped quotes inside a JSON string (group 3), or unquoted up to white space, a quote, a
 * backslash, `,`, `;` or `&` (group 4, after an optional auth scheme). A quoted value runs to its
 * closing quote or the end of the line, so a cut-off line is still redacted; each alternative
 * consumes a character one way only, so a scan stays linear.
 */
const secretPairPattern =
  /(?:pass(?:word|wd|phrase)|pwd|secret(?:[_-]?access)?(?:[_-]?key)?|(?:access[ _-]?)?token|api[ _-]?key)\\?["']?[ \t]*(?::=?|=>?)[ \t]*(?:"((?:[^"\\\r\n]|\\[^\r\n])+)|'([^'\r\n]+)|\\"((?:[^"\\\r\n]|\\(?!")[^\r\n])+)|(?:(?:Bearer|Basic|Token)[ \t]+)?([^\s"'\\,;&]+))/dgi;
/** Values that hide nothing: empty-ish literals and masks someone already applied. */
const notASecretPattern = /^(?:null|undefined|none|nil|true|false|[*•]+|[[<(]?(?:redacted|filtered|hidden|masked|removed)[\]>)]?)$/i;

export function detectPrivateKeys(text: string, emit: Emit): void {
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

export function detectAwsKeys(text: string, emit: Emit): void {
  for (const m of text.matchAll(awsAccessKeyPattern)) {
    emit('AWS_ACCESS_KEY', m.index, m.index + m[0].length);
  }
  for (const m of text.matchAll(awsSecretKeyPattern)) {
    emitTrailingGroup('AWS_SECRET_KEY', m, m[1], emit);
  }
}

export function detectBearerTokens(text: string, emit: Emit): void {
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

export function detectSecretPairs(text: string, emit: Emit): void {
  for (const m of text.matchAll(secretPairPattern)) {
    const group = [1, 2, 3, 4].find((g) => m[g] !== undefined) ?? 0;
    const [start, end] = m.indices?.[group] ?? [0, 0];
    const raw = text.slice(start, end);
    // An unquoted value does not take the punctuation that closes a sentence or a bracket, unless
    // the bracket closes a placeholder (`token=[SECRET_1].`).
    const value = group === 4 ? raw.replace(/[.)\]}>]+$/, '') : raw;
    const hidden = [value, raw.replace(/[.)}>]+$/, '')].some((v) => notASecretPattern.test(v) || wholePlaceholderPattern.test(v));
    if (!hidden) {
      emit('SECRET', start, start + value.length);
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
