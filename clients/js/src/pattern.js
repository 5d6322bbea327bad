// `validation.pattern` is written in the syntax of Rust's `regex` crate (the server checks `^(?:pattern)$`).
// Its Unicode-aware classes mean other things than JavaScript's (`\d` is every decimal digit, `\w` every letter,
// `.` everything but `\n`), so the pattern is translated into an equivalent JavaScript expression (`u` flag).
// What has no faithful translation (Unicode word boundaries, inline flags other than a leading `(?i)`, nested
// classes and class set operations, POSIX classes, script names) gives `null`: the runtime then leaves that
// field's pattern to the server (`Evaluation.unchecked`) instead of guessing.

const WORD = '\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}';
// JavaScript syntax characters, which keep their backslash in `u` mode.
const SYNTAX = new Set(['^', '$', '\\', '.', '*', '+', '?', '(', ')', '[', ']', '{', '}', '|', '/']);
// General categories (long and short names) JavaScript accepts bare in `\p{…}`, as Rust does.
const CATEGORIES = new Set(['L', 'Lu', 'Ll', 'Lt', 'Lm', 'Lo', 'LC', 'M', 'Mn', 'Mc', 'Me', 'N', 'Nd', 'Nl', 'No',
  'P', 'Pc', 'Pd', 'Ps', 'Pe', 'Pi', 'Pf', 'Po', 'S', 'Sm', 'Sc', 'Sk', 'So', 'Z', 'Zs', 'Zl', 'Zp', 'C', 'Cc',
  'Cf', 'Cs', 'Co', 'Cn', 'Letter', 'Uppercase_Letter', 'Lowercase_Letter', 'Number', 'Decimal_Number',
  'Punctuation', 'Symbol', 'Separator', 'Mark', 'Other']);

function literal(c, inClass) {
  return SYNTAX.has(c) || (c === '-' && inClass) ? `\\${c}` : c;
}

/**
 * Translates a Rust `regex` pattern into a JavaScript RegExp that matches the same whole strings, or `null`.
 * @param {string} pattern
 * @returns {RegExp | null}
 */
export function compilePattern(pattern) {
  let flags = 'u';
  let src = pattern;
  if (src.startsWith('(?i)')) {
    flags += 'i';
    src = src.slice(4);
  }
  const out = translate(src);
  if (out === null) return null;
  try {
    return new RegExp(`^(?:${out})$`, flags);
  } catch {
    return null;
  }
}

function translate(src) {
  const chars = [...src];
  let out = '';
  let inClass = false;
  let classStart = false;
  for (let i = 0; i < chars.length; i += 1) {
    const c = chars[i];
    if (c === '\\') {
      const next = chars[i + 1];
      if (next === undefined) return null;
      i += 1;
      const escaped = escape(next, chars, i, inClass);
      if (escaped === null) return null;
      out += escaped.text;
      i = escaped.end;
      classStart = false;
      continue;
    }
    if (inClass) {
      if (c === '[') {
        // `[[:alpha:]]`, nested classes: no faithful translation.
        return null;
      }
      if ((c === '&' || c === '-' || c === '~') && chars[i + 1] === c && !classStart) return null;
      if (c === ']' && !classStart) {
        inClass = false;
        out += ']';
        continue;
      }
      classStart = false;
      out += c === ']' ? '\\]' : c;
      continue;
    }
    switch (c) {
      case '[':
        inClass = true;
        classStart = true;
        out += '[';
        if (chars[i + 1] === '^') {
          out += '^';
          i += 1;
        }
        break;
      case '.':
        out += '[^\\n]';
        break;
      case '(':
        if (chars[i + 1] === '?') {
          if (chars[i + 2] === ':') {
            out += '(?:';
            i += 2;
          } else if (chars[i + 2] === 'P' && chars[i + 3] === '<') {
            out += '(?<';
            i += 3;
          } else if (chars[i + 2] === '<') {
            out += '(?<';
            i += 2;
          } else {
            return null; // inline flags
          }
        } else {
          out += '(';
        }
        break;
      default:
        out += c;
    }
  }
  return inClass ? null : out;
}

function escape(c, chars, i, inClass) {
  const one = (text) => ({ text, end: i });
  switch (c) {
    case 'd': return one('\\p{Nd}');
    case 'D': return inClass ? null : one('\\P{Nd}');
    case 's': return one('\\p{White_Space}');
    case 'S': return inClass ? null : one('\\P{White_Space}');
    case 'w': return one(inClass ? WORD : `[${WORD}]`);
    case 'W': return inClass ? null : one(`[^${WORD}]`);
    case 'n': return one('\\n');
    case 't': return one('\\t');
    case 'r': return one('\\r');
    case 'f': return one('\\f');
    case 'v': return one('\\v');
    case 'a': return one('\\x07');
    case 'A': return inClass ? null : one('^');
    case 'z': return inClass ? null : one('$');
    case 'b':
    case 'B':
    case 'Z':
    case '<':
    case '>':
      return null;
    case 'x': {
      if (chars[i + 1] === '{') {
        const close = chars.indexOf('}', i + 2);
        if (close < 0) return null;
        const hex = chars.slice(i + 2, close).join('');
        if (!/^[0-9a-fA-F]{1,6}$/.test(hex)) return null;
        return { text: `\\u{${hex}}`, end: close };
      }
      const hex = chars.slice(i + 1, i + 3).join('');
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return null;
      return { text: `\\x${hex}`, end: i + 2 };
    }
    case 'p':
    case 'P': {
      let name;
      let end;
      if (chars[i + 1] === '{') {
        const close = chars.indexOf('}', i + 2);
        if (close < 0) return null;
        name = chars.slice(i + 2, close).join('');
        end = close;
      } else {
        name = chars[i + 1];
        end = i + 1;
      }
      if (!CATEGORIES.has(name)) return null;
      return { text: `\\${c}{${name}}`, end };
    }
    default:
      if (/[0-9A-Za-z]/.test(c)) return null;
      return one(literal(c, inClass));
  }
}
