// The few places where the server's answers are written by Rust rather than by JavaScript, so that the runtime
// can give the same strings: `str::trim` (Unicode White_Space, not JavaScript's trim set), `chars().count()`,
// `f64`'s `Display` (never an exponent), `{:?}` of a string, key order of a `BTreeMap<String, _>` (UTF-8 byte
// order, i.e. code-point order, not UTF-16 order), and `Uuid::parse_str`.

const WHITE_SPACE = /^\p{White_Space}+|\p{White_Space}+$/gu;

/** Rust's `str::trim`: strips Unicode White_Space (U+0085 yes, U+FEFF no — unlike `String.prototype.trim`). */
export function rustTrim(text) {
  return text.replace(WHITE_SPACE, '');
}

/** Rust's `str::chars().count()`: Unicode scalar values (a lone surrogate counts once, as JSON decoding cannot
 * give the server one). */
export function charCount(text) {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}

/** Rust's `Display` of an `f64`: the shortest digits that read back, never in exponent form (`1e21` is
 * `1000000000000000000000`, `1e-7` is `0.0000001`), `-0` as `-0`. */
export function rustFloat(n) {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'inf';
  if (n === -Infinity) return '-inf';
  if (Object.is(n, -0)) return '-0';
  let text = String(n);
  const e = text.indexOf('e');
  if (e < 0) return text;
  const negative = text.startsWith('-');
  const mantissa = text.slice(negative ? 1 : 0, e);
  const exponent = Number(text.slice(e + 1));
  const [whole, fraction = ''] = mantissa.split('.');
  const digits = whole + fraction;
  const point = whole.length + exponent;
  if (point <= 0) text = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) text = digits + '0'.repeat(point - digits.length);
  else text = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return (negative ? '-' : '') + text;
}

// Rust's `char::is_printable` escapes the general categories Cc, Cf, Cs, Co, Cn, Zl, Zp and Zs (but ' '); its
// string `Debug` also escapes grapheme extenders.
const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}\p{Grapheme_Extend}]/u;

/** Rust's `format!("{:?}", text)` of a `&str`: quoted, with `\"`, `\\`, `\n`, `\r`, `\t`, `\0` and `\u{…}`. */
export function rustDebugString(text) {
  let out = '"';
  for (const c of text) {
    switch (c) {
      case '"': out += '\\"'; break;
      case '\\': out += '\\\\'; break;
      case '\n': out += '\\n'; break;
      case '\r': out += '\\r'; break;
      case '\t': out += '\\t'; break;
      case '\0': out += '\\0'; break;
      default:
        out += c !== ' ' && NOT_PRINTABLE.test(c) ? `\\u{${c.codePointAt(0).toString(16)}}` : c;
    }
  }
  return `${out}"`;
}

/** Orders strings as a Rust `BTreeMap<String, _>` does (byte order of UTF-8 = code-point order). */
export function compareCodePoints(a, b) {
  const x = a[Symbol.iterator]();
  const y = b[Symbol.iterator]();
  for (;;) {
    const p = x.next();
    const q = y.next();
    if (p.done || q.done) return p.done && q.done ? 0 : p.done ? -1 : 1;
    const d = p.value.codePointAt(0) - q.value.codePointAt(0);
    if (d !== 0) return d;
  }
}

/** The object's own keys in the order the server walks a JSON object (`serde_json::Map`, a `BTreeMap`). */
export function sortedKeys(object) {
  return Object.keys(object).sort(compareCodePoints);
}

const HEX = /^[0-9a-fA-F]{32}$/;

/** `Uuid::parse_str`: hyphenated, simple (32 hex digits), braced `{…}` or `urn:uuid:…`, any case; the id in
 * its canonical form (lower case, hyphenated), or `null`. */
export function parseUuid(text) {
  if (typeof text !== 'string') return null;
  let s = text;
  if (s.length === 45 && s.slice(0, 9) === 'urn:uuid:') s = s.slice(9);
  else if (s.length === 38 && s[0] === '{' && s[37] === '}') s = s.slice(1, 37);
  let hex;
  if (s.length === 32) hex = s;
  else if (s.length === 36) {
    if (s[8] !== '-' || s[13] !== '-' || s[18] !== '-' || s[23] !== '-') return null;
    hex = s.slice(0, 8) + s.slice(9, 13) + s.slice(14, 18) + s.slice(19, 23) + s.slice(24);
  } else return null;
  if (!HEX.test(hex)) return null;
  hex = hex.toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
