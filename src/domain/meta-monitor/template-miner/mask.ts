/**
 * Turns one message into the tokens the template miner compares: every part that looks like a
 * value (numbers, hex, ids, IPs, paths, URLs, e-mail addresses, host names, `key=value` values,
 * units after a number, dates written with words, redaction placeholders, and words with a
 * number inside such as `blk_123` or `LOCAL(0)`) becomes a variable,
 * and runs of variables collapse into one, so values of any length (`12 ms` and `1.2 s`, an
 * empty `()` and a host name in brackets, one node name or forty) give the same shape.
 *
 * The rules say what values look like in logs in general; none is fitted to a particular
 * system's format.
 */

/** How a variable is shown in a template. */
export const VARIABLE = '<*>';

/** A message reduced to its constant tokens, in order, and where variables stood between them. */
export interface MaskedMessage {
  /** The tokens that are not values; a label keeps its key and masks its value (`uid=<*>`, `onExtend:<*>`). */
  constants: string[];
  /** `gaps[i]` is true when a variable precedes `constants[i]`; `gaps[constants.length]`: one ends the message. */
  gaps: boolean[];
}

export interface MaskLimits {
  /** Masked tokens remembered, so the same word is classified once; cleared when full. */
  tokenMemo: number;
  /** Characters of a message looked at; the rest is cut off, which bounds the work per message. */
  maxChars: number;
  /** Whitespace-separated tokens looked at. */
  maxTokens: number;
}

/** Placeholders the ingest redaction writes, such as `[EMAIL_1]` or `[IPV4_2]`. */
const placeholder = /\[[A-Z0-9_]+_\d+\]/g;
const url = /\b[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s"'<>)\]]+/g;
const email = /[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g;
/** logfmt's quoted values, `key="two words"`: one value, however many words. */
const quotedValue = /([A-Za-z_][\w.-]*=)(?:"[^"]*"|'[^']*')/g;
const uuid = /\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b/g;
const lead = /^[([{"'`]+/;
const trail = /[)\]}"'`,;:.!?]+$/;
/** Alphanumeric runs with a digit: numbers, ids, hex, versions, numbers with a glued unit (`12ms`). */
const digitRun = /[A-Za-z0-9]*\d[A-Za-z0-9]*/g;
/** Variables joined only by punctuation (`<*>.<*>.<*>.<*>:<*>`, `<*>_<*>`) are one value. */
const joinedVariables = /<\*>(?:[^A-Za-z\s<]*<\*>)+/g;
const longHex = /^(?:0x)?[0-9a-fA-F]{8,}$/;
const keyValue = /^([A-Za-z_][\w.-]*)([=:])(.+)$/;
/** `name:port`, `a.b.c:port`: a lower-case name (dots allowed) and a port number. */
const hostPort = /^[a-z0-9][a-z0-9.-]*:\d{1,5}$/;
const hostName = /^[A-Za-z0-9<>*-]+(?:\.[A-Za-z0-9<>*-]+)+(?::<\*>)?$/;
/** Top-level domains common enough to say "this dotted word is a host name". */
const topLevelDomains = new Set(['com', 'net', 'org', 'edu', 'gov', 'mil', 'int', 'io', 'info', 'biz', 'co', 'uk', 'de', 'fr', 'jp', 'cn', 'hk', 'ru', 'br', 'in', 'au', 'ca', 'eu', 'us', 'nl', 'it', 'es', 'ch', 'se', 'kr', 'tw', 'local', 'localdomain', 'internal', 'lan', 'arpa', 'cloud', 'dev', 'app', 'ai']);
/** Units written after a number (`5.8 KB`, `12 ms`): part of the value, not of the template. */
const units = new Set(['B', 'KB', 'MB', 'GB', 'TB', 'PB', 'kB', 'KiB', 'MiB', 'GiB', 'TiB', 'Kb', 'Mb', 'Gb', 'kb', 'mb', 'gb', 'ns', 'us', 'µs', 'ms', 's', 'sec', 'secs', 'min', 'mins', 'h', 'hr', 'hrs', 'Hz', 'kHz', 'MHz', 'GHz', '%', 'KB/s', 'MB/s', 'GB/s', 'kbps', 'Mbps', 'Gbps', 'bps']);
/** Day and month names and time zones; a value only next to a number (`Fri Jul 22 19:29:09 EDT`), so "May" stays a word in prose. */
const dateWords = new Set(
  ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday', 'jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'sept', 'oct', 'nov', 'dec', 'january', 'february', 'march', 'april', 'june', 'july', 'august', 'september', 'october', 'november', 'december', 'utc', 'gmt', 'est', 'edt', 'cst', 'cdt', 'mst', 'mdt', 'pst', 'pdt', 'cet', 'cest', 'bst', 'jst'],
);

/** One token as classified: `core` is the token without surrounding brackets and punctuation. */
export type MaskedToken = Classified & { digit: boolean };
type Classified = { variable: true; core: string } | { variable: false; text: string; core: string };
type Token = MaskedToken;

/** Whether a value-free core is a path: `/var/lib/x`, `./a`, `~/a`, `C:\x`, or two or more slashes. */
function isPath(core: string): boolean {
  if (core.length < 2) {
    return false;
  }
  if (core.startsWith('/') || core.startsWith('./') || core.startsWith('../') || core.startsWith('~/') || /^[A-Za-z]:\\/.test(core)) {
    return true;
  }
  let slashes = 0;
  for (let i = 0; i < core.length; i++) {
    if (core.charCodeAt(i) === 47) {
      slashes++;
    }
  }
  return slashes >= 2;
}

function isHostName(masked: string): boolean {
  if (!hostName.test(masked)) {
    return false;
  }
  const name = masked.endsWith(':<*>') ? masked.slice(0, -4) : masked;
  const last = name.slice(name.lastIndexOf('.') + 1);
  return topLevelDomains.has(last);
}

/** `'name'`, `"id",`: one quoted word is a value (a name, a key, an id) named by the words around it. */
function quotedWord(head: string, tail: string): boolean {
  const quote = head[head.length - 1];
  return (quote === "'" || quote === '"' || quote === '`') && tail.startsWith(quote);
}

function maskToken(raw: string): Token {
  const token = classify(raw);
  return { ...token, digit: /\d/.test(token.core) };
}

/** One whitespace-separated token: a variable, or a constant with its value parts masked. */
function classify(raw: string): Classified {
  const head = lead.exec(raw)?.[0] ?? '';
  const rest = raw.slice(head.length);
  const tail = trail.exec(rest)?.[0] ?? '';
  const core = rest.slice(0, rest.length - tail.length);
  if (core === '') {
    // `()`, `[]`, `""`: an empty value. Other punctuation (`-`, `|`, `=>`) is part of the template.
    return /^[()[\]{}"'`]+$/.test(raw) ? { variable: true, core } : { variable: false, text: raw, core };
  }
  if (isPath(core) || longHex.test(core) || quotedWord(head, tail)) {
    return { variable: true, core };
  }
  const masked = core.replace(digitRun, VARIABLE).replace(joinedVariables, VARIABLE);
  if (isHostName(masked) || hostPort.test(core)) {
    return { variable: true, core };
  }
  // `key=value`, and `key:value` when the value has a digit: the key is part of the template.
  const kv = keyValue.exec(core);
  if (kv && (kv[2] === '=' || /\d/.test(kv[3] ?? ''))) {
    return { variable: false, text: `${head}${kv[1] ?? ''}${kv[2] ?? ''}${VARIABLE}${tail}`, core };
  }
  // A word with a value inside (`blk_<*>`, `core.<*>`, `LOCAL(<*>)`) is a value as a whole: its
  // letters are a prefix or a unit of the value far more often than a distinct message.
  if (masked.includes(VARIABLE)) {
    return { variable: true, core };
  }
  return { variable: false, text: `${head}${masked}${tail}`, core };
}

/** Values that span or hide inside tokens, replaced before the message is split; each only when its marker is there. */
function maskSpans(message: string): string {
  // The miner joins tokens with these two characters; a message must not forge that.
  let text = message.includes('\u0001') || message.includes('\u0002') ? message.replaceAll('\u0001', ' ').replaceAll('\u0002', ' ') : message;
  if (text.includes('[')) {
    text = text.replace(placeholder, VARIABLE);
  }
  if (text.includes('://')) {
    text = text.replace(url, VARIABLE);
  }
  if (text.includes('@')) {
    text = text.replace(email, VARIABLE);
  }
  if (text.includes('-')) {
    text = text.replace(uuid, VARIABLE);
  }
  if (text.includes('="') || text.includes("='")) {
    text = text.replace(quotedValue, `$1${VARIABLE}`);
  }
  return text;
}

/**
 * Splits and masks a message. The same message always gives the same result; `memo` only saves
 * classifying a token seen before.
 */
export function maskMessage(message: string, limits: MaskLimits, memo: Map<string, MaskedToken>): MaskedMessage {
  const raw = maskSpans(message.length > limits.maxChars ? message.slice(0, limits.maxChars) : message).split(/\s+/);
  const tokens: Token[] = [];
  for (const part of raw) {
    if (part === '') {
      continue;
    }
    if (tokens.length >= limits.maxTokens) {
      break;
    }
    let token = memo.get(part);
    if (token === undefined) {
      token = maskToken(part);
      if (memo.size >= limits.tokenMemo) {
        memo.clear();
      }
      memo.set(part, token);
    }
    tokens.push(token);
  }
  const constants: string[] = [];
  const gaps: boolean[] = [false];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    let variable = t.variable;
    if (!variable) {
      const previous = tokens[i - 1];
      if (previous?.variable === true && units.has(t.core)) {
        variable = true;
      } else if (dateWords.has(t.core.toLowerCase()) && (tokens[i - 2]?.digit === true || tokens[i - 1]?.digit === true || tokens[i + 1]?.digit === true || tokens[i + 2]?.digit === true)) {
        variable = true;
      }
    }
    if (variable) {
      gaps[constants.length] = true;
    } else if (!t.variable) {
      constants.push(t.text);
      gaps.push(false);
    }
  }
  return { constants, gaps };
}
