// A fast path for the YAML that kustomize prints. kustomize (kyaml, on go-yaml v3's encoder)
// writes a narrow, canonical YAML: block mappings and sequences indented by two spaces (a
// sequence under a key at the key's own indent), plain, single- and double-quoted scalars (long
// ones wrapped onto more-indented lines), literal and folded block scalars with an optional
// indentation indicator, the empty flow collections `{}` and `[]`, documents between `---` lines.
//
// This file parses exactly that subset, line by line, into the same JS values as the `yaml`
// package's `parse` (YAML 1.2 core schema). Anything outside the subset (anchors, aliases, tags,
// non-empty flow collections, complex keys, tabs, duplicate keys, odd indentation, comments
// where they would need thought, ...) throws a private "unsupported" signal, never a YAML
// error: the caller then parses that document with the full parser, which also owns every error
// message. When in doubt the parser declines: a decline costs time, a wrong value would cost
// correctness. test/kyaml-fast.test.ts checks it against `yaml` on real renders, a hand-written
// corpus, objects round-tripped through kustomize and mutated (mostly invalid) documents.
//
// It works on offsets into the whole text (no string per line) and keeps the keys it has seen
// in a small cache, so that the keys of kustomize's output, which repeat, cost no allocation.

const LF = 0x0a;
const SP = 0x20;
const TAB = 0x09;
const HASH = 0x23;
const COLON = 0x3a;
const DASH = 0x2d;
const DQUOTE = 0x22;
const SQUOTE = 0x27;
const BACKSLASH = 0x5c;
const PIPE = 0x7c;
const GT = 0x3e;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const PLUS = 0x2b;
const DOT = 0x2e;
const QUESTION = 0x3f;

/** Keys longer than this are errors for implicit keys in `yaml`; never accepted here. */
const MAX_IMPLICIT_KEY = 1024;

/** The private signal: one frozen object, so throwing it captures no stack. */
const UNSUPPORTED: { readonly kyamlFast: "unsupported" } = Object.freeze({ kyamlFast: "unsupported" as const });

/** True for the signal thrown on input outside the subset (the caller falls back to `yaml`). */
export function isKyamlUnsupported(error: unknown): boolean {
  return error === UNSUPPORTED;
}

function unsupported(): never {
  throw UNSUPPORTED;
}

/** A stream cut into lines and into documents (half-open line ranges between `---` lines). */
export interface KyamlStream {
  /** The text, always ending with a line break (one is added when the input has none). */
  text: string;
  /** Offset of the start of each line, and one more: the text's length. */
  starts: number[];
  /** Number of lines. */
  lineCount: number;
  docs: [start: number, end: number][];
  /** Whether the input's last line ends with a line break (it matters to `|+` at the very end). */
  terminated: boolean;
}

/**
 * Cuts a stream at its `---` lines. Returns undefined when the stream has anything that makes
 * cutting it into documents unsafe or is outside the subset at stream level: a byte order mark,
 * CR line ends, directives (`%`), `...` markers, or a `---` line with anything after the marker.
 */
export function splitKyamlStream(input: string): KyamlStream | undefined {
  if (input.charCodeAt(0) === 0xfeff || input.includes("\r")) return undefined;
  const terminated = input.length > 0 && input.charCodeAt(input.length - 1) === LF;
  const text = terminated || input.length === 0 ? input : `${input}\n`;
  const starts: number[] = [];
  const docs: [number, number][] = [];
  let docStart = 0;
  let line = 0;
  for (let p = 0; p < text.length; line++) {
    starts.push(p);
    const c = text.charCodeAt(p);
    if (c === DASH || c === DOT) {
      const three = text.startsWith("---", p) ? DASH : text.startsWith("...", p) ? DOT : 0;
      if (three) {
        const after = text.charCodeAt(p + 3);
        if (three === DASH && after === LF) {
          if (line > docStart) docs.push([docStart, line]);
          docStart = line + 1;
        } else if (after === LF || after === SP || after === TAB) {
          return undefined;
        }
      }
    } else if (c === 0x25 /* % */) {
      return undefined;
    }
    p = text.indexOf("\n", p) + 1;
  }
  starts.push(text.length);
  if (line > docStart) docs.push([docStart, line]);
  return { text, starts, lineCount: line, docs, terminated };
}

/** The text of lines [start, end) of a stream, as the input had it. */
export function kyamlDocumentText(stream: KyamlStream, start: number, end: number): string {
  const to = end === stream.lineCount && !stream.terminated ? stream.text.length - 1 : stream.starts[end]!;
  return stream.text.slice(stream.starts[start]!, to);
}

/** Parses every document of a stream; throws the unsupported signal on anything outside the subset. */
export function parseKyamlStream(text: string): unknown[] {
  const stream = splitKyamlStream(text);
  if (!stream) unsupported();
  const out: unknown[] = [];
  for (const [start, end] of stream.docs) {
    const value = parseKyamlDocument(stream, start, end);
    if (value !== null) out.push(value);
  }
  return out;
}

/**
 * Parses the document on lines [start, end) of a stream: a block mapping at the top, or nothing
 * (null, as `yaml` gives for an empty or comment-only document). Throws the unsupported signal
 * on anything else.
 */
export function parseKyamlDocument(stream: KyamlStream, start: number, end: number): Record<string, unknown> | null {
  const parser = new Parser(stream.text, stream.starts, end, end < stream.lineCount || stream.terminated);
  const first = parser.nextContent(start);
  if (first >= end) return null;
  if (parser.indent !== 0) unsupported();
  const value = parser.mapping(first, stream.starts[first]!, 0);
  if (parser.nextContent(parser.i) < end) unsupported();
  return value;
}

/** `-`, `?` or `:` at text[at], followed by a space, a tab or the end of the line. */
function isIndicatorThenBlank(text: string, at: number): boolean {
  const next = text.charCodeAt(at + 1);
  return next === SP || next === LF || next === TAB;
}

/** Whether a plain scalar may start at text[at] (block context), as far as this parser accepts. */
function plainMayStart(text: string, at: number): boolean {
  switch (text.charCodeAt(at)) {
    case DASH:
    case QUESTION:
    case COLON:
      return !isIndicatorThenBlank(text, at);
    case HASH:
    case 0x26: // &
    case 0x2a: // *
    case 0x21: // !
    case PIPE:
    case GT:
    case SQUOTE:
    case DQUOTE:
    case 0x25: // %
    case 0x40: // @
    case 0x60: // `
    case LBRACE:
    case RBRACE:
    case LBRACKET:
    case RBRACKET:
    case 0x2c: // ,
    case TAB:
    case SP:
    case LF:
      return false;
    default:
      return true;
  }
}

/** Only spaces, or spaces and then a comment, from `from` to the end of the line. */
function restIsBlank(text: string, from: number): boolean {
  let k = from;
  while (text.charCodeAt(k) === SP) k++;
  const c = text.charCodeAt(k);
  return c === LF || (c === HASH && k > from);
}

/** Offset of the closing quote of a quoted scalar opened at text[at], on the same line; -1 if none. */
function closingQuote(text: string, at: number, double: boolean): number {
  if (double) {
    for (let k = at + 1; ; k++) {
      const c = text.charCodeAt(k);
      if (c === DQUOTE) return k;
      if (c === LF) return -1;
      if (c === BACKSLASH && text.charCodeAt(k + 1) !== LF) k++;
    }
  }
  for (let k = at + 1; ; k++) {
    const c = text.charCodeAt(k);
    if (c === SQUOTE) {
      if (text.charCodeAt(k + 1) === SQUOTE) k++;
      else return k;
    } else if (c === LF) {
      return -1;
    }
  }
}

/**
 * Offset of the `:` of an implicit key starting at text[at], or -1 when the line holds no key
 * there (it is a scalar). Unsupported when it is a key this parser does not take (empty, with
 * trailing spaces, tabs or control characters, too long).
 */
function keyColon(text: string, at: number): number {
  const c = text.charCodeAt(at);
  if (c === DQUOTE || c === SQUOTE) {
    const close = closingQuote(text, at, c === DQUOTE);
    if (close === -1 || text.charCodeAt(close + 1) !== COLON) return -1;
    const after = text.charCodeAt(close + 2);
    if (after === SP || after === LF) return close + 1;
    return -1;
  }
  for (let k = at; ; k++) {
    const ch = text.charCodeAt(k);
    if (ch === COLON) {
      const after = text.charCodeAt(k + 1);
      if (after === SP || after === LF) {
        if (k === at || text.charCodeAt(k - 1) === SP || k - at > MAX_IMPLICIT_KEY) unsupported();
        return k;
      }
    } else if (ch === LF) {
      return -1;
    } else if (ch === HASH) {
      if (text.charCodeAt(k - 1) === SP) return -1;
    } else if (ch < SP) {
      unsupported(); // tabs, control characters
    }
  }
}

// Plain keys repeat: a small cache from their text to the key, looked up by a hash of the
// characters, so a key seen before is neither sliced nor hashed again by the engine.
const KEY_CACHE_SIZE = 4096;
const keyCacheRaw: (string | undefined)[] = new Array<string | undefined>(KEY_CACHE_SIZE).fill(undefined);
const keyCacheKey: string[] = new Array<string>(KEY_CACHE_SIZE).fill("");

/** plainKeyEnd's hash of the key it scanned. */
let scannedHash = 0;

/** keyColon for a plain key known to be one, hashing its characters on the way. */
function plainKeyEnd(text: string, at: number): number {
  let h = 0;
  for (let k = at; ; k++) {
    const ch = text.charCodeAt(k);
    if (ch === COLON) {
      const after = text.charCodeAt(k + 1);
      if (after === SP || after === LF) {
        if (k === at || text.charCodeAt(k - 1) === SP || k - at > MAX_IMPLICIT_KEY) unsupported();
        scannedHash = h;
        return k;
      }
    } else if (ch === LF) {
      return -1;
    } else if (ch === HASH) {
      if (text.charCodeAt(k - 1) === SP) return -1;
    } else if (ch < SP) {
      unsupported(); // tabs, control characters
    }
    h = (Math.imul(h, 31) + ch) | 0;
  }
}

/** The key for the plain key text[from, to) whose hash plainKeyEnd computed. */
function plainKeyAt(text: string, from: number, to: number, hash: number): string {
  const slot = (hash ^ (hash >>> 12)) & (KEY_CACHE_SIZE - 1);
  const raw = keyCacheRaw[slot];
  if (raw !== undefined && raw.length === to - from && text.startsWith(raw, from)) return keyCacheKey[slot]!;
  const fresh = text.slice(from, to);
  const key = plainKey(fresh);
  keyCacheRaw[slot] = fresh;
  keyCacheKey[slot] = key;
  return key;
}

// ---------------------------------------------------------------------------------------------
// Scalars: the YAML 1.2 core schema exactly as `yaml` resolves it.

const INT_OCT = /^0o[0-7]+$/;
const INT = /^[-+]?[0-9]+$/;
const INT_HEX = /^0x[0-9a-fA-F]+$/;
const FLOAT_NAN = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

/** The value of a plain scalar (already folded). */
export function resolvePlain(s: string): unknown {
  const c = s.charCodeAt(0);
  if ((c >= 0x30 && c <= 0x39) || c === PLUS || c === DASH || c === DOT) {
    // Shortcuts: digits only (the int pattern), or a last character no number ends with.
    let k = 0;
    while (k < s.length && s.charCodeAt(k) >= 0x30 && s.charCodeAt(k) <= 0x39) k++;
    if (k === s.length) return parseInt(s, 10);
    const last = s.charCodeAt(s.length - 1) | 0x20; // lower case for letters
    if (!((last >= 0x30 && last <= 0x39) || (last >= 0x61 && last <= 0x66) || last === 0x6e /* n */ || last === DOT)) return s;
    if (INT_OCT.test(s)) return parseInt(s.substring(2), 8);
    if (INT.test(s)) return parseInt(s, 10);
    if (INT_HEX.test(s)) return parseInt(s.substring(2), 16);
    if (FLOAT_NAN.test(s)) return s.slice(-3).toLowerCase() === "nan" ? Number.NaN : c === DASH ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
    if (FLOAT_EXP.test(s) || FLOAT.test(s)) return parseFloat(s);
    return s;
  }
  switch (c) {
    case 0x7e: // ~
      return s.length === 1 ? null : s;
    case 0x6e: // n
    case 0x4e: // N
      return s === "null" || s === "Null" || s === "NULL" ? null : s;
    case 0x74: // t
    case 0x54: // T
      return s === "true" || s === "True" || s === "TRUE" ? true : s;
    case 0x66: // f
    case 0x46: // F
      return s === "false" || s === "False" || s === "FALSE" ? false : s;
    default:
      return s;
  }
}

/** A plain key as a JS object key: `yaml` turns the resolved key into a string (null into ""). */
function plainKey(s: string): string {
  const value = resolvePlain(s);
  return typeof value === "string" ? value : value === null ? "" : String(value);
}

// Ports of `yaml`'s resolve-flow-scalar (v2): the same folding and escapes, on the same source.

const ESCAPES: Record<string, string> = {
  "0": "\0",
  a: "\x07",
  b: "\b",
  e: "\x1b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  N: "\u0085",
  _: "\u00a0",
  L: "\u2028",
  P: "\u2029",
  " ": " ",
  '"': '"',
  "/": "/",
  "\\": "\\",
  "\t": "\t",
};

function doubleQuotedValue(source: string): string {
  let res = "";
  for (let i = 1; i < source.length - 1; ++i) {
    const ch = source[i]!;
    if (ch === "\n") {
      let fold = "";
      let next = source[i + 1];
      while (next === " " || next === "\t" || next === "\n") {
        if (next === "\n") fold += "\n";
        i += 1;
        next = source[i + 1];
      }
      res += fold || " ";
    } else if (ch === "\\") {
      let next = source[++i]!;
      const escaped = ESCAPES[next];
      if (escaped !== undefined) res += escaped;
      else if (next === "\n") {
        next = source[i + 1]!;
        while (next === " " || next === "\t") next = source[++i + 1]!;
      } else if (next === "x" || next === "u" || next === "U") {
        const length = next === "x" ? 2 : next === "u" ? 4 : 8;
        const code = source.substr(i + 1, length);
        if (code.length !== length || !/^[0-9a-fA-F]+$/.test(code)) unsupported();
        const point = parseInt(code, 16);
        if (point > 0x10ffff) unsupported();
        res += String.fromCodePoint(point);
        i += length;
      } else {
        unsupported(); // an invalid escape: an error for `yaml`
      }
    } else if (ch === " " || ch === "\t") {
      const wsStart = i;
      let next = source[i + 1];
      while (next === " " || next === "\t") next = source[++i + 1];
      if (next !== "\n") res += i > wsStart ? source.slice(wsStart, i + 1) : ch;
    } else {
      res += ch;
    }
  }
  return res;
}

const TRIM_END = /(?<![ \t])[ \t]+$/;
const TRIM_BOTH = /^[ \t]+|(?<![ \t])[ \t]+$/g;

function unfoldLines(source: string): string {
  const first = source.indexOf("\n");
  if (first === -1) return source;
  const parts = source.split("\n");
  let res = parts[0]!.replace(TRIM_END, "");
  let sep = " ";
  for (let k = 1; k < parts.length - 1; k++) {
    const line = parts[k]!.replace(TRIM_BOTH, "");
    if (line === "") {
      if (sep === "\n") res += sep;
      else sep = "\n";
    } else {
      res += sep + line;
      sep = " ";
    }
  }
  return res + sep + parts[parts.length - 1]!.replace(/^[ \t]*/, "");
}

// ---------------------------------------------------------------------------------------------

class Parser {
  /** The line after the last one the most recent node used. */
  i = 0;
  /** Indentation of the line nextContent() returned. */
  indent = 0;
  /** A line whose indentation plain() measured already (the one after a scalar), and that indentation. */
  private scannedLine = -1;
  private scannedIndent = 0;

  constructor(
    private readonly text: string,
    private readonly starts: readonly number[],
    private readonly end: number,
    /** Whether the document's last line ends with a line break in the input. */
    private readonly lastTerminated: boolean,
  ) {}

  /** The next line at or after j that is not blank and not a comment (its indent in this.indent); `end` if none. */
  nextContent(j: number): number {
    const { text, starts, end } = this;
    for (; j < end; j++) {
      const p = starts[j]!;
      let k = p;
      if (j === this.scannedLine) k += this.scannedIndent;
      else while (text.charCodeAt(k) === SP) k++;
      const c = text.charCodeAt(k);
      if (c === LF || c === HASH) continue;
      if (c === TAB) unsupported();
      this.indent = k - p;
      return j;
    }
    return end;
  }

  /** A block mapping whose first key starts at offset `at` of line `line`; the next keys are at indent `col`. */
  mapping(line: number, at: number, col: number): Record<string, unknown> {
    const text = this.text;
    const map: Record<string, unknown> = {};
    for (;;) {
      let key: string;
      let colon: number;
      const c = text.charCodeAt(at);
      if (c === DQUOTE || c === SQUOTE) {
        colon = keyColon(text, at);
        if (colon === -1) unsupported();
        key = c === DQUOTE ? doubleQuotedValue(text.slice(at, colon)) : text.slice(at + 1, colon - 1).replaceAll("''", "'");
      } else {
        colon = plainKeyEnd(text, at);
        if (colon === -1 || !plainMayStart(text, at)) unsupported();
        key = plainKeyAt(text, at, colon, scannedHash);
      }
      // A duplicate is an error for `yaml`. (The load finds nothing on a fresh key but inherited names.)
      if (map[key] !== undefined && Object.prototype.hasOwnProperty.call(map, key)) unsupported();
      const value = this.value(line, colon + 1, col, true);
      if (key === "__proto__") Object.defineProperty(map, key, { value, writable: true, enumerable: true, configurable: true });
      else map[key] = value;
      const next = this.nextContent(this.i);
      if (next >= this.end) {
        this.i = next;
        return map;
      }
      if (this.indent > col) unsupported();
      if (this.indent < col) {
        this.i = next;
        return map;
      }
      line = next;
      at = this.starts[next]! + col;
    }
  }

  /** A block sequence whose first `-` is at offset `at` of line `line`; the next items are at indent `col`. */
  sequence(line: number, at: number, col: number): unknown[] {
    const text = this.text;
    const list: unknown[] = [];
    for (;;) {
      list.push(this.value(line, at + 1, col, false));
      const next = this.nextContent(this.i);
      if (next >= this.end) {
        this.i = next;
        return list;
      }
      if (this.indent > col) unsupported();
      at = this.starts[next]! + col;
      if (this.indent < col || text.charCodeAt(at) !== DASH || !isIndicatorThenBlank(text, at)) {
        this.i = next;
        return list;
      }
      line = next;
    }
  }

  /**
   * The value after a key's `:` or an item's `-`, from offset `from` of line `line`. `parent` is
   * the indent of the collection holding it. Sets this.i to the line after the value.
   */
  value(line: number, from: number, parent: number, inMap: boolean): unknown {
    const text = this.text;
    let q = from;
    while (text.charCodeAt(q) === SP) q++;
    const c = text.charCodeAt(q);
    if (c === LF || (c === HASH && q > from)) return this.nextLinesValue(line, parent, inMap);
    switch (c) {
      case DQUOTE:
      case SQUOTE:
        if (!inMap && keyColon(text, q) !== -1) return this.mapping(line, q, q - this.starts[line]!);
        return this.quoted(line, q, parent);
      case PIPE:
      case GT:
        return this.blockScalar(line, q, parent);
      case LBRACE:
      case LBRACKET: {
        if (text.charCodeAt(q + 1) !== (c === LBRACE ? RBRACE : RBRACKET) || !restIsBlank(text, q + 2)) unsupported();
        this.i = line + 1;
        return c === LBRACE ? {} : [];
      }
      case DASH:
        if (isIndicatorThenBlank(text, q)) {
          if (inMap) unsupported(); // `key: - x` is an error
          return this.sequence(line, q, q - this.starts[line]!);
        }
        break;
      case TAB:
        unsupported();
        break;
      default:
        break;
    }
    if (!inMap && keyColon(text, q) !== -1) return this.mapping(line, q, q - this.starts[line]!);
    return this.plain(line, q, parent);
  }

  /** A value that starts on the lines after `key:` or `-` (or null when none does). */
  private nextLinesValue(line: number, parent: number, inMap: boolean): unknown {
    const next = this.nextContent(line + 1);
    if (next < this.end) {
      const text = this.text;
      const n = this.indent;
      const at = this.starts[next]! + n;
      const isItem = text.charCodeAt(at) === DASH && isIndicatorThenBlank(text, at);
      if (n > parent) {
        if (isItem) return this.sequence(next, at, n);
        if (keyColon(text, at) === -1) unsupported(); // a scalar on its own line: not taken
        return this.mapping(next, at, n);
      }
      if (n === parent && inMap && isItem) return this.sequence(next, at, n);
    }
    this.i = line + 1;
    return null;
  }

  /** Checks one line of a plain scalar from `from`; returns the offset after its last non-space character. */
  private plainLineEnd(from: number, first: boolean): number {
    const text = this.text;
    let last = from;
    for (let k = from + 1; ; k++) {
      const ch = text.charCodeAt(k);
      if (ch === COLON) {
        const after = text.charCodeAt(k + 1);
        if (after === SP || after === LF) unsupported(); // `a: b: c` is an error
      } else if (ch === HASH) {
        if (text.charCodeAt(k - 1) === SP) {
          if (!first) unsupported(); // a comment inside a multi-line scalar
          this.comment = true;
          break;
        }
      } else if (ch === LF) {
        break;
      } else if (ch < SP) {
        unsupported(); // tabs, control characters
      }
      if (ch !== SP) last = k;
    }
    return last + 1;
  }

  private comment = false;

  /** A plain scalar starting at offset `at`, folded over more-indented continuation lines. */
  private plain(line: number, at: number, parent: number): unknown {
    const text = this.text;
    if (!plainMayStart(text, at)) unsupported();
    this.comment = false;
    let value = text.slice(at, this.plainLineEnd(at, true));
    let j = line + 1;
    if (!this.comment) {
      // Continuation lines: not blank and more indented than the collection.
      const starts = this.starts;
      for (; j < this.end; j++) {
        const p = starts[j]!;
        let k = p;
        while (text.charCodeAt(k) === SP) k++;
        if (k - p <= parent || text.charCodeAt(k) === LF) {
          this.scannedLine = j;
          this.scannedIndent = k - p;
          break;
        }
        if (!plainMayStart(text, k)) unsupported();
        value += ` ${text.slice(k, this.plainLineEnd(k, false))}`;
      }
    }
    this.i = j;
    return resolvePlain(value);
  }

  /** A single- or double-quoted scalar starting at offset `at`, possibly over several lines. */
  private quoted(line: number, at: number, parent: number): string {
    const text = this.text;
    const double = text.charCodeAt(at) === DQUOTE;
    const close = closingQuote(text, at, double);
    if (close !== -1) {
      if (!restIsBlank(text, close + 1)) unsupported();
      this.i = line + 1;
      const inner = text.slice(at + 1, close);
      if (double) return inner.includes("\\") ? doubleQuotedValue(text.slice(at, close + 1)) : inner;
      return inner.includes("''") ? inner.replaceAll("''", "'") : inner;
    }
    // It goes on over the next lines, each more indented than the collection (or empty).
    const starts = this.starts;
    for (let j = line + 1; j < this.end; j++) {
      const p = starts[j]!;
      if (text.charCodeAt(p) === LF) continue;
      let k = p;
      while (text.charCodeAt(k) === SP) k++;
      const c = text.charCodeAt(k);
      if (k - p <= parent || c === LF || c === TAB) unsupported();
      const end = closingQuote(text, k - 1, double); // scans from k
      if (end === -1) continue;
      if (!restIsBlank(text, end + 1)) unsupported();
      this.i = j + 1;
      const source = text.slice(at, end + 1);
      if (double) return doubleQuotedValue(source);
      return unfoldLines(source.slice(1, -1)).replace(/''/g, "'");
    }
    return unsupported();
  }

  /** A literal or folded block scalar whose header starts at offset `at`; `parent` is n in YAML's terms. */
  private blockScalar(line: number, at: number, parent: number): string {
    const { text, starts } = this;
    const folded = text.charCodeAt(at) === GT;
    let indicator = 0;
    let chomp = "";
    let k = at + 1;
    for (; k <= at + 2; k++) {
      const ch = text.charCodeAt(k);
      if (!chomp && (ch === DASH || ch === PLUS)) chomp = ch === DASH ? "-" : "+";
      else if (!indicator && ch >= 0x31 && ch <= 0x39) indicator = ch - 0x30;
      else break;
    }
    while (text.charCodeAt(k) === SP) k++;
    if (text.charCodeAt(k) !== LF) unsupported(); // a comment or anything else after the header
    // Leading empty lines, then the first content line.
    let first = line + 1;
    while (first < this.end && text.charCodeAt(starts[first]!) === LF) first++;
    let firstIndent = 0;
    if (first < this.end) {
      const p = starts[first]!;
      let e = p;
      while (text.charCodeAt(e) === SP) e++;
      if (text.charCodeAt(e) === LF) unsupported(); // spaces-only lines: not taken
      firstIndent = e - p;
    }
    if (first >= this.end || firstIndent <= parent) {
      // No content: "" (`|+` keeps one line break per empty line).
      if (first >= this.end && !this.lastTerminated) unsupported();
      this.i = first;
      return chomp === "+" ? "\n".repeat(first - line - 1) : "";
    }
    const trim = indicator ? parent + indicator : firstIndent;
    if (firstIndent < trim) unsupported(); // less indented than its indicator says: an error
    let last = first; // the last content line
    let spacesOnly = -1; // the last line of only spaces
    let j = first + 1;
    for (; j < this.end; j++) {
      const p = starts[j]!;
      let e = p;
      while (text.charCodeAt(e) === SP) e++;
      const c = text.charCodeAt(e);
      if (c === LF) {
        if (e > p) spacesOnly = j;
        continue;
      }
      if (e - p < trim) {
        if (c === TAB) unsupported(); // less-indented tabs belong to the scalar (as an error) for `yaml`
        break;
      }
      last = j;
    }
    // Lines of only spaces are taken between content lines, not after the last one (where
    // whether they belong to the scalar depends on what follows it).
    if (spacesOnly > last) unsupported();
    // Lines (first, last] are content or empty; (last, j) are trailing empty lines.
    let value = "\n".repeat(first - line - 1);
    let sep = "";
    let prevMoreIndented = false;
    for (let e = first; e <= last; e++) {
      const p = starts[e]!;
      const lineEnd = starts[e + 1]! - 1;
      // Empty, or only spaces and no more than the indentation (content lines have more).
      const empty = lineEnd - p <= trim;
      if (!folded) {
        value += empty ? sep : sep + text.slice(p + trim, lineEnd);
        sep = "\n";
        continue;
      }
      if (empty) {
        if (sep === "\n") value += "\n";
        else sep = "\n";
        continue;
      }
      const c0 = text.charCodeAt(p + trim);
      if (c0 === SP || c0 === TAB) {
        if (sep === " ") sep = "\n";
        else if (!prevMoreIndented && sep === "\n") sep = "\n\n";
        value += sep + text.slice(p + trim, lineEnd);
        sep = "\n";
        prevMoreIndented = true;
      } else {
        value += sep + text.slice(p + trim, lineEnd);
        sep = " ";
        prevMoreIndented = false;
      }
    }
    if (chomp === "+") {
      // Every trailing empty line is kept, and the last one's line break when the input has it.
      const trailing = j - last - 1 + (j < this.end || this.lastTerminated ? 1 : 0);
      value += "\n".repeat(Math.max(1, trailing));
      this.i = j;
    } else {
      if (chomp === "") value += "\n";
      this.i = last + 1;
    }
    return value;
  }
}
