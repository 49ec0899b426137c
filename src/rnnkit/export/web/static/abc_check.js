// Is a tune valid ABC? The browser's copy of rnnkit.music.validate.check_tune (with the
// parts of rnnkit.music.notation and rnnkit.music.abc_tunes it builds on), rule for rule
// and message for message, so that a page judges a generated tune exactly as the Python
// tools do. tests/export/test_abc_check_js.py holds the two to each other on the lab's
// tunes and on broken variants of them: change one, change the other, run that test.
//
// Python's text semantics are mirrored where the rules touch them: its \d, \s and \w are
// Unicode-wide, str.splitlines() knows more line breaks than "\n", string indices count code
// points (column numbers in messages), and messages quote text the way repr() does.
// Durations are exact fractions over BigInt, as Python's Fraction over int: no size of
// length modifier ("c////4") can round a bar into or out of fitting its meter.

const REQUIRED_FIELDS = ["X", "T", "M", "L", "K"];
const MAX_IRREGULAR_FRACTION = 0.1;

// ---- Python text semantics --------------------------------------------------------------

// str.isspace() and re's \s: more than JS's \s (which adds \ufeff and lacks \x1c-\x1f, \x85).
const SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029" +
  "\\u202f\\u205f\\u3000";
const S = `[${SPACE}]`;
const NS = `[^${SPACE}]`;
const D = "\\p{Nd}"; // re's \d on str: any decimal digit, and int() reads them all
const W = "[\\p{L}\\p{Nd}\\p{Nl}\\p{No}_]"; // re's \w on str: alphanumeric (isalnum) or "_"
const LINE_BREAK = /\r\n|[\n\v\f\r\x1c-\x1e\x85\u2028\u2029]/u;
const EDGE_SPACE = new RegExp(`^${S}+|${S}+$`, "gu");
// str.isdigit(): decimal digits plus the other Numeric_Type=Digit characters (superscripts,
// circled digits...), which no \p{} class names.
const DIGITS = new RegExp("^[\\p{Nd}\\u00b2\\u00b3\\u00b9\\u1369-\\u1371\\u19da\\u2070" +
  "\\u2074-\\u2079\\u2080-\\u2089\\u2460-\\u2468\\u2474-\\u247c\\u2488-\\u2490\\u24ea" +
  "\\u24f5-\\u24fd\\u24ff\\u2776-\\u277e\\u2780-\\u2788\\u278a-\\u2792\\u{10a40}-\\u{10a43}" +
  "\\u{10e60}-\\u{10e68}\\u{11052}-\\u{1105a}\\u{1f100}-\\u{1f10a}]+$", "u");
const DECIMAL = /^\p{Nd}$/u;
const UNPRINTABLE = /^[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]$/u;
const NAMED_ESCAPES = new Map([["\t", "\\t"], ["\n", "\\n"], ["\r", "\\r"]]);

function splitlines(text) {
  const lines = text.split(LINE_BREAK);
  if (lines[lines.length - 1] === "") lines.pop(); // a final break starts no line
  return lines;
}

function strip(text) {
  return text.replace(EDGE_SPACE, "");
}

function isDigits(text) {
  return DIGITS.test(text);
}

// int() of a run of decimal digits, of any script. Unicode encodes each script's digits as
// one contiguous run 0-9 (runs may abut, in tens), so a digit's value is its distance from
// the start of its run, modulo 10.
function toInt(digits) {
  if (/^[0-9]+$/.test(digits)) return BigInt(digits);
  let value = 0n;
  for (const char of digits) value = value * 10n + BigInt(digitValue(char));
  return value;
}

function digitValue(char) {
  const code = char.codePointAt(0);
  let start = code;
  while (DECIMAL.test(String.fromCodePoint(start - 1))) start -= 1;
  return (code - start) % 10;
}

// repr() of a str, for the messages that quote text.
function repr(text) {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let body = "";
  for (const char of text) body += escapeChar(char, quote);
  return quote + body + quote;
}

function escapeChar(char, quote) {
  if (char === quote || char === "\\") return `\\${char}`;
  if (NAMED_ESCAPES.has(char)) return NAMED_ESCAPES.get(char);
  if (char === " " || !UNPRINTABLE.test(char)) return char;
  const code = char.codePointAt(0);
  const hex = code.toString(16);
  if (code < 0x100) return `\\x${hex.padStart(2, "0")}`;
  if (code < 0x10000) return `\\u${hex.padStart(4, "0")}`;
  return `\\U${hex.padStart(8, "0")}`;
}

// Python's str indices count code points where JS's count UTF-16 units.
function column(line, position) {
  return [...line.slice(0, position)].length + 1;
}

function charAt(line, position) {
  return String.fromCodePoint(line.codePointAt(position));
}

// re.match(pattern, text, position): the regexes below are sticky ("y").
function matchAt(regex, text, position) {
  regex.lastIndex = position;
  return regex.exec(text);
}

function end(match) {
  return match.index + match[0].length;
}

// ---- Exceptions, as Python's: parse errors are ValueErrors, AbcSyntaxError is one too ----

class ValueError extends Error {
  get name() {
    return "ValueError";
  }
}

class AbcSyntaxError extends ValueError {
  get name() {
    return "AbcSyntaxError";
  }
}

class ZeroDivisionError extends Error {
  get name() {
    return "ZeroDivisionError";
  }
}

// ---- Fraction --------------------------------------------------------------------------

function gcd(a, b) {
  let [x, y] = [a < 0n ? -a : a, b < 0n ? -b : b];
  while (y) [x, y] = [y, x % y];
  return x;
}

class Fraction {
  constructor(numerator, denominator = 1n) {
    if (denominator === 0n) throw new ZeroDivisionError(`Fraction(${numerator}, 0)`);
    const sign = denominator < 0n ? -1n : 1n;
    const divisor = gcd(numerator, denominator);
    this.numerator = (sign * numerator) / divisor;
    this.denominator = (sign * denominator) / divisor;
  }

  add(other) {
    return new Fraction(this.numerator * other.denominator + other.numerator * this.denominator,
      this.denominator * other.denominator);
  }

  sub(other) {
    return this.add(new Fraction(-other.numerator, other.denominator));
  }

  mul(other) {
    return new Fraction(this.numerator * other.numerator, this.denominator * other.denominator);
  }

  div(other) {
    return new Fraction(this.numerator * other.denominator, this.denominator * other.numerator);
  }

  compare(other) {
    const difference = this.numerator * other.denominator - other.numerator * this.denominator;
    return difference > 0n ? 1 : difference < 0n ? -1 : 0;
  }

  toString() {
    return this.denominator === 1n ? `${this.numerator}` : `${this.numerator}/${this.denominator}`;
  }
}

function fraction(numerator, denominator = 1n) {
  return new Fraction(BigInt(numerator), BigInt(denominator));
}

const ZERO = fraction(0);
const ONE = fraction(1);

// ---- Header fields (rnnkit.music.abc_tunes) ---------------------------------------------

const FIELD_LINE = /([A-Za-z]):([^\n]*)$/uy;
const KEY = new RegExp(`^([A-G][#b]?)${S}*([A-Za-z]*)((?:${S}+(?:[_^=][A-Ga-g]|${W}+=${NS}+))*)` +
  `${S}*$`, "u");
const MODES = new Map(Object.entries({
  "": "major", maj: "major", major: "major", ion: "major", ionian: "major",
  m: "minor", min: "minor", minor: "minor", aeo: "minor", aeolian: "minor",
  dor: "dorian", dorian: "dorian", mix: "mixolydian", mixolydian: "mixolydian",
  phr: "phrygian", phrygian: "phrygian", lyd: "lydian", lydian: "lydian",
  loc: "locrian", locrian: "locrian",
}));
const METER_NAMES = new Map([["C", "4/4"], ["C|", "2/2"]]);

// The header runs from the top through the first K: line; a non-field line before any K:
// means the header never ends (bodyStart null).
function parseHeader(tune) {
  const fields = new Map();
  const lines = splitlines(tune);
  for (let index = 0; index < lines.length; index += 1) {
    if (lines[index].startsWith("%")) continue;
    const match = matchAt(FIELD_LINE, lines[index], 0);
    if (match === null) return { fields, bodyStart: null };
    const [, letter, value] = match;
    if (!fields.has(letter)) fields.set(letter, []);
    fields.get(letter).push(value);
    if (letter === "K") return { fields, bodyStart: index + 1 };
  }
  return { fields, bodyStart: null };
}

function first(header, letter) {
  const values = header.fields.get(letter);
  return values ? strip(values[0]) : null;
}

/** "D", "Dmaj", "D Major" -> "D major"; "Ador" -> "A dorian". Throws for an unknown key. */
export function normalizeKey(value) {
  const text = strip(value);
  if (text.toLowerCase() === "none") return "none";
  const match = KEY.exec(text);
  const mode = match ? match[2].toLowerCase() : null;
  if (match === null || !MODES.has(mode)) {
    throw new ValueError(`key ${repr(text)} is not a tonic A-G with an optional mode ` +
      "(e.g. D, Em, A Dorian, G Mixolydian)");
  }
  return `${match[1]} ${MODES.get(mode)}`;
}

/** "C" -> "4/4", "C|" -> "2/2", others as written (stripped). */
export function normalizeMeter(value) {
  const text = strip(value);
  return METER_NAMES.get(text) ?? text;
}

// ---- Body (rnnkit.music.notation) --------------------------------------------------------

const NOTE = /(\^{1,2}|_{1,2}|=)?([A-Ga-g])([',]*)/uy;
const LENGTH = new RegExp(`(${D}*)(/*)(${D}*)`, "uy");
const REST = /[zx]/uy;
const MULTI_BAR_REST = new RegExp(`[ZX](${D}*)`, "uy");
const BAR_LINE = /:*(?:\[\||\|\]|\|\||\|)(?:\]|:*)|::/uy;
const ENDING = new RegExp(`\\[?${D}+(?:[,\\-]${D}+)*`, "uy");
const BROKEN_RHYTHM = />{1,3}|<{1,3}/uy;
const TUPLET = new RegExp(`\\((${D}+)(?::(${D}*))?(?::(${D}*))?`, "uy");
const DECORATION = new RegExp(`!([^!${SPACE}]+)!|\\+([^+${SPACE}]+)\\+`, "uy");
const INLINE_FIELD = /\[([A-Za-z]):([^\]]*)\]/uy;
const METER = new RegExp(`(${D}+(?:\\+${D}+)*)/(${D}+)$`, "uy");
const UNIT = new RegExp(`^${S}*(${D}+)/(${D}+)${S}*$`, "u");
// Spans that take no time, skipped whole: opening character -> [closing one, what it is].
const ENCLOSED = new Map([['"', ['"', "chord symbol or annotation"]], ["{", ["}", "grace notes"]]]);
const SKIPPED = new Set(" \t\\`y-()~.HLMOPSTuvRJ");
const DEFAULT_UNIT = fraction(1, 8);
// How many notes of a tuplet (p) fill the time of how many (q): ABC 2.1, section 4.13.
const TUPLET_TIME = new Map([[2n, 3n], [3n, 2n], [4n, 3n], [6n, 2n], [8n, 3n]]);

function parseMeter(text) {
  const value = strip(text);
  if (value === "C" || value === "C|") return ONE; // common and cut time last a whole note
  if (value.toLowerCase() === "none") return null;
  const match = matchAt(METER, value, 0);
  if (match === null || toInt(match[2]) === 0n) {
    throw new ValueError(`meter ${repr(value)} is not C, C|, none or N/D`);
  }
  const beats = match[1].split("+").reduce((sum, digits) => sum + toInt(digits), 0n);
  return new Fraction(beats, toInt(match[2]));
}

function parseUnit(text) {
  const match = UNIT.exec(text);
  if (match === null || toInt(match[1]) === 0n || toInt(match[2]) === 0n) {
    throw new ValueError(`unit note length ${repr(strip(text))} is not N/D (e.g. 1/8)`);
  }
  return new Fraction(toInt(match[1]), toInt(match[2]));
}

function defaultUnit(measure) {
  return measure !== null && measure.compare(fraction(3, 4)) < 0 ? fraction(1, 16) : DEFAULT_UNIT;
}

function newReader(measure, unit) {
  return {
    measure, unit, line: 0, bars: [], barDuration: ZERO, barHasSound: false,
    barIsOpen: false, sectionOpen: true, lastDuration: null, brokenFactor: null,
    tupletFactor: ONE, tupletLeft: 0n, finalNote: null,
  };
}

function readBody(body, measure, unit) {
  const reader = newReader(measure, unit);
  splitlines(body).forEach((line, index) => {
    reader.line = index + 1;
    readLine(reader, line);
  });
  closeBar(reader, true);
  return { bars: reader.bars, finalNote: reader.finalNote };
}

function readLine(reader, line) {
  if (line.startsWith("%")) return;
  const fieldLine = matchAt(FIELD_LINE, line, 0);
  if (fieldLine !== null) {
    applyField(reader, fieldLine[1], fieldLine[2]);
    return;
  }
  const music = line.split("%", 1)[0];
  let position = 0;
  while (position < music.length) position = readSymbol(reader, music, position);
}

function syntaxError(reader, line, position, text) {
  return new AbcSyntaxError(`line ${reader.line}, column ${column(line, position)}: ${text}`);
}

const SYMBOL_READERS = [readNoteOrRest, readBarLine, readBracket, readTuplet, readBrokenRhythm,
  readSkipped];

function readSymbol(reader, line, position) {
  for (const read of SYMBOL_READERS) {
    const after = read(reader, line, position);
    if (after !== null) return after;
  }
  throw syntaxError(reader, line, position,
    `unexpected ${repr(charAt(line, position))} in ${repr(strip(line))}`);
}

function readNoteOrRest(reader, line, position) {
  const multi = matchAt(MULTI_BAR_REST, line, position);
  if (multi !== null) {
    const bars = multi[1] ? toInt(multi[1]) : 1n; // "Z0" is zero bars, a bare "Z" one
    reader.barDuration = reader.barDuration.add(fraction(bars).mul(reader.measure ?? ZERO));
    reader.barIsOpen = true;
    return end(multi);
  }
  const note = matchAt(NOTE, line, position);
  const symbol = note ?? matchAt(REST, line, position);
  if (symbol === null) return null;
  const [length, after] = readLength(reader, line, end(symbol));
  addEvent(reader, length.mul(reader.unit), note !== null);
  if (note !== null) reader.finalNote = note[2].toUpperCase();
  return after;
}

function readLength(reader, line, position) {
  const match = matchAt(LENGTH, line, position);
  const [, numerator, slashes, denominator] = match;
  if (slashes && denominator && toInt(denominator) === 0n) {
    throw syntaxError(reader, line, position,
      `note length ${repr(match[0])} divides by zero in ${repr(strip(line))}`);
  }
  let value = fraction(numerator ? toInt(numerator) : 1n);
  if (slashes && denominator) { // "//4" is an eighth of 4: rare, allowed
    value = value.div(fraction(toInt(denominator) * 2n ** BigInt(slashes.length - 1)));
  } else if (slashes) {
    value = value.div(fraction(2n ** BigInt(slashes.length)));
  }
  return [value, end(match)];
}

function addEvent(reader, duration, sounding) {
  let length = duration;
  if (reader.brokenFactor !== null) {
    length = length.mul(reader.brokenFactor);
    reader.brokenFactor = null;
  }
  if (reader.tupletLeft) {
    length = length.mul(reader.tupletFactor);
    reader.tupletLeft -= 1n;
  }
  reader.barDuration = reader.barDuration.add(length);
  reader.barHasSound ||= sounding;
  reader.barIsOpen = true;
  reader.lastDuration = length;
}

function readBarLine(reader, line, position) {
  const match = matchAt(BAR_LINE, line, position);
  if (match === null) return null;
  const after = end(match);
  const ending = line.startsWith("[", after) ? null : matchAt(ENDING, line, after);
  // Any bar line but a plain "|" (repeats, double and final bars) or an ending number
  // bounds a section, where a short bar is a pickup or its complement, not an error.
  const boundary = match[0] !== "|" || ending !== null;
  closeBar(reader, boundary);
  reader.sectionOpen = boundary;
  return ending !== null ? end(ending) : after;
}

function closeBar(reader, closesSection) {
  if (reader.barIsOpen) {
    reader.bars.push({
      duration: reader.barDuration, measure: reader.measure, line: reader.line,
      opensSection: reader.sectionOpen, closesSection, restsOnly: !reader.barHasSound,
    });
    reader.sectionOpen = false;
  } else if (closesSection && reader.bars.length) {
    reader.bars[reader.bars.length - 1].closesSection = true;
  }
  reader.barDuration = ZERO;
  reader.barHasSound = false;
  reader.barIsOpen = false;
}

function readBracket(reader, line, position) {
  if (line[position] !== "[") return null;
  const inline = matchAt(INLINE_FIELD, line, position);
  if (inline !== null) {
    applyField(reader, inline[1], inline[2]);
    return end(inline);
  }
  const ending = matchAt(ENDING, line, position); // "[1", "[2,3": needs a digit after "["
  if (ending !== null) {
    closeBar(reader, true);
    reader.sectionOpen = true;
    return end(ending);
  }
  return readChord(reader, line, position);
}

// "[CEG]2": the chord lasts as long as its first note, times the length after "]".
function readChord(reader, line, position) {
  const close = line.indexOf("]", position);
  if (close < 0) {
    throw syntaxError(reader, line, position,
      `chord '[' is never closed with ']' in ${repr(strip(line))}`);
  }
  const chord = line.slice(position, close + 1);
  let inside = position + 1;
  let firstLength = null;
  while (inside < close) {
    const note = matchAt(NOTE, line, inside);
    if (note === null) {
      inside = skipInChord(reader, line, inside, chord);
      continue;
    }
    const [length, after] = readLength(reader, line, end(note));
    inside = after;
    firstLength ??= length;
    reader.finalNote = note[2].toUpperCase();
  }
  if (firstLength === null) throw syntaxError(reader, line, position, `empty chord ${repr(chord)}`);
  const [multiplier, after] = readLength(reader, line, close + 1);
  addEvent(reader, firstLength.mul(multiplier).mul(reader.unit), true);
  return after;
}

function skipInChord(reader, line, inside, chord) {
  if (SKIPPED.has(line[inside]) || line[inside] === ")" || line[inside] === "(") {
    return inside + 1;
  }
  throw syntaxError(reader, line, inside,
    `${repr(charAt(line, inside))} is not a note, inside chord ${repr(chord)}`);
}

function readTuplet(reader, line, position) {
  const match = matchAt(TUPLET, line, position);
  if (match === null) return null;
  const notes = toInt(match[1]);
  if (notes < 2n) {
    throw syntaxError(reader, line, position, `tuplet ${repr(match[0])} needs at least 2 notes`);
  }
  const time = match[2] ? toInt(match[2])
    : TUPLET_TIME.get(notes) ?? (isCompound(reader.measure) ? 3n : 2n);
  reader.tupletFactor = new Fraction(time, notes);
  reader.tupletLeft = match[3] ? toInt(match[3]) : notes;
  return end(match);
}

function isCompound(measure) {
  return measure !== null && measure.numerator % 3n === 0n && measure.numerator > 3n;
}

function readBrokenRhythm(reader, line, position) {
  const match = matchAt(BROKEN_RHYTHM, line, position);
  if (match === null) return null;
  if (reader.lastDuration === null || !reader.barIsOpen) {
    throw syntaxError(reader, line, position,
      `broken rhythm ${repr(match[0])} has no note before it in its bar`);
  }
  const shorter = new Fraction(1n, 2n ** BigInt(match[0].length));
  const longer = fraction(2).sub(shorter);
  const [before, next] = match[0][0] === ">" ? [longer, shorter] : [shorter, longer];
  // The note before has already counted in full: correct it now, scale the next one later.
  reader.barDuration = reader.barDuration.add(reader.lastDuration.mul(before.sub(ONE)));
  reader.brokenFactor = next;
  return end(match);
}

function readSkipped(reader, line, position) {
  const char = line[position];
  if (ENCLOSED.has(char)) return skipEnclosed(reader, line, position);
  const decoration = matchAt(DECORATION, line, position);
  if (decoration !== null) return end(decoration);
  if (char === "!") return position + 1; // a lone "!": the line break of older ABC files
  return SKIPPED.has(char) ? position + 1 : null;
}

function skipEnclosed(reader, line, position) {
  const char = line[position];
  const [closer, what] = ENCLOSED.get(char);
  const close = line.indexOf(closer, position + 1);
  if (close < 0) {
    throw syntaxError(reader, line, position,
      `${what} ${repr(char)} is never closed in ${repr(strip(line))}`);
  }
  return close + 1;
}

function applyField(reader, letter, value) {
  try {
    if (letter === "M") reader.measure = parseMeter(value);
    else if (letter === "L") reader.unit = parseUnit(value);
  } catch (error) {
    if (!(error instanceof ValueError)) throw error;
    throw new AbcSyntaxError(`line ${reader.line}: ${error.message}`);
  }
}

// ---- The verdict (rnnkit.music.validate) --------------------------------------------------

/**
 * Check one ABC tune (header and body): {valid, problems, title, key, meter, bars,
 * irregularBars, finalNote, categories}, as rnnkit.music.validate.check_tune's TuneCheck.
 */
export function checkTune(tune, maxIrregular = null) {
  const header = parseHeader(tune);
  const problems = [];
  const { title, key, meter, measure, unit } = checkHeader(header, problems);
  let body = { bars: [], finalNote: null };
  if (header.bodyStart !== null) {
    // Joined and split again, as Python does: the last bar's line number depends on it.
    const text = splitlines(tune).slice(header.bodyStart).join("\n");
    body = checkBody(text, measure, unit, problems);
  }
  const irregular = irregularBars(body.bars);
  checkMeter(body.bars, irregular, maxIrregular, problems);
  return {
    valid: problems.length === 0, problems: problems.map(([, text]) => text), title, key, meter,
    bars: body.bars.length, irregularBars: irregular.length, finalNote: body.finalNote,
    categories: [...new Set(problems.map(([kind]) => kind))],
  };
}

function checkMeter(bars, irregular, maxIrregular, problems) {
  const allowed = maxIrregular ?? Math.max(1, Math.floor(MAX_IRREGULAR_FRACTION * bars.length));
  if (irregular.length <= allowed) return;
  const shown = irregular.slice(0, 3)
    .map((bar) => `line ${bar.line}: ${bar.duration} of ${bar.measure}`).join(", ");
  problems.push(["meter", `${irregular.length} of ${bars.length} bars do not fit the meter ` +
    `(at most ${allowed} may): ${shown}`]);
}

function irregularBars(bars) {
  return bars.filter((bar) => bar.measure !== null && !wholeBarsOfRest(bar) && (
    bar.duration.compare(bar.measure) > 0
    || (bar.duration.compare(bar.measure) < 0 && !(bar.opensSection || bar.closesSection))));
}

// A multi-bar rest ("Z4") lasts a whole number of measures by design. (Under an "M:0/4"
// measure this divides by zero and throws, as Python's check_tune raises.)
function wholeBarsOfRest(bar) {
  return bar.restsOnly && bar.duration.div(bar.measure).denominator === 1n;
}

function checkHeader(header, problems) {
  checkFieldsPresent(header, problems);
  const title = first(header, "T");
  if (title !== null && !title) problems.push(["header", "T: (title) is empty"]);
  const number = first(header, "X");
  if (number !== null && !isDigits(number)) {
    problems.push(["header", `X: ${repr(number)} is not a whole number`]);
  }
  const key = parseField(header, "K", normalizeKey, problems);
  const meterText = first(header, "M");
  const measure = parseField(header, "M", parseMeter, problems);
  const unit = parseField(header, "L", parseUnit, problems) ?? defaultUnit(measure);
  const meter = meterText !== null && (measure !== null || meterText.toLowerCase() === "none")
    ? normalizeMeter(meterText) : null;
  return { title, key, meter, measure, unit };
}

function checkFieldsPresent(header, problems) {
  const missing = REQUIRED_FIELDS.filter((letter) => first(header, letter) === null);
  if (missing.length) problems.push(["header", `header lacks field(s) ${missing.join(", ")}`]);
  if (header.fields.size && header.fields.keys().next().value !== "X") {
    problems.push(["header", "the header does not start with X:"]);
  }
  if (header.bodyStart === null) problems.push(["header", "no K: line ends the header"]);
}

function parseField(header, letter, parse, problems) {
  const value = first(header, letter);
  if (value === null) return null;
  try {
    return parse(value);
  } catch (error) {
    if (!(error instanceof ValueError)) throw error;
    problems.push(["header", `${letter}: ${error.message}`]);
    return null;
  }
}

function checkBody(text, measure, unit, problems) {
  let parsed;
  try {
    parsed = readBody(text, measure, unit);
  } catch (error) {
    if (!(error instanceof AbcSyntaxError)) throw error;
    problems.push(["syntax", `body does not parse: ${error.message}`]);
    return { bars: [], finalNote: null };
  }
  if (parsed.bars.every((bar) => bar.restsOnly)) {
    problems.push(["empty", "the body holds no notes"]);
  }
  return parsed;
}
