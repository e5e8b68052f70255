/**
 * The value rules of one form field: its JSON type (see FieldType in decision_spec.proto), lengths,
 * pattern, bounds and options. Used for answers (response.value.form.<name>) and for a field's own
 * default_value, which must pass the same rules.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import { FieldType, type FormField } from "../../gen/coordinator/v1/decision_spec_pb.js";
import { InvalidFieldError } from "./errors.js";
import { codePointLength, describeJson, quote } from "./text-rules.js";

/** The types whose value is free text: they take min_length, max_length and pattern. */
export const STRING_TYPES: ReadonlySet<FieldType> = new Set([FieldType.TEXT, FieldType.TEXTAREA, FieldType.EMAIL, FieldType.URI]);

/** The types whose value is a number: they take minimum and maximum. */
export const NUMBER_TYPES: ReadonlySet<FieldType> = new Set([FieldType.NUMBER, FieldType.INTEGER]);

/** The contract's bound for INTEGER values: ±2^53, beyond which doubles skip whole numbers. */
const INTEGER_LIMIT = 2 ** 53;

// Line breaks in the Unicode sense (UAX #14 mandatory breaks): a TEXT value is one line.
const LINE_BREAK = /[\n\v\f\r\u0085\u2028\u2029]/;

// Pragmatic addr-spec: a dot-atom local part and a domain of one or more labels ("ops@localhost"
// is fine). No quoted local parts or IP literals: nobody types those into an approval form.
const ATEXT = "[\\p{L}\\p{N}!#$%&'*+/=?^_`{|}~-]";
const LABEL = "[\\p{L}\\p{N}](?:[\\p{L}\\p{N}-]{0,61}[\\p{L}\\p{N}])?";
const EMAIL = new RegExp(`^${ATEXT}+(?:\\.${ATEXT}+)*@${LABEL}(?:\\.${LABEL})*$`, "u");

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

// Compiled patterns by source: a decision's answers are checked many times against few patterns.
const compiled = new Map<string, RegExp>();

/**
 * Compiles a field pattern the way the contract says: ECMAScript, Unicode mode, anchored at both
 * ends (the group keeps "a|b" from anchoring only one branch): `^(?:pattern)$` with flag u.
 *
 * @throws SyntaxError when the pattern does not compile.
 */
export function compileFieldPattern(pattern: string): RegExp {
  let regex = compiled.get(pattern);
  if (!regex) {
    // Compiled alone first: only then are its groups balanced, so that "a)|(b" cannot close the
    // anchoring group and leave each branch anchored at one end only.
    new RegExp(pattern, "u");
    regex = new RegExp(`^(?:${pattern})$`, "u");
    // A bounded cache: drop everything rather than track use; recompiling is cheap.
    if (compiled.size >= 1_000) compiled.clear();
    compiled.set(pattern, regex);
  }
  return regex;
}

/**
 * Checks one value against its field's type and rules.
 *
 * @param path - where the value sits in the request, e.g. "response.value.form.port" or
 *   "spec.form.fields[2].default_value"; errors name it.
 * @throws InvalidFieldError naming `path`.
 */
export function checkFieldValue(field: FormField, value: JsonValue, path: string): void {
  switch (field.type) {
    case FieldType.NUMBER:
    case FieldType.INTEGER:
      return checkNumber(field, value, path);
    case FieldType.BOOLEAN:
      if (typeof value !== "boolean") throw new InvalidFieldError(path, `expected true or false, got ${describeJson(value)}`);
      return;
    case FieldType.DATE:
      return checkDate(expectString(value, path), path);
    case FieldType.DATE_TIME:
      return checkDateTime(expectString(value, path), path);
    case FieldType.ENUM: {
      const text = expectString(value, path);
      if (!field.options.some((option) => option.value === text)) {
        throw new InvalidFieldError(path, `${quote(text)} is not one of the options (${field.options.map((o) => quote(o.value)).join(", ")})`);
      }
      return;
    }
    case FieldType.TEXT:
    case FieldType.TEXTAREA:
    case FieldType.EMAIL:
    case FieldType.URI:
      return checkString(field, expectString(value, path), path);
    default:
      // A checked spec never gets here; a stored one from a newer server might.
      throw new InvalidFieldError(path, `field type ${field.type} is not supported by this server`);
  }
}

function expectString(value: JsonValue, path: string): string {
  if (typeof value !== "string") throw new InvalidFieldError(path, `expected a string, got ${describeJson(value)}`);
  return value;
}

function checkString(field: FormField, value: string, path: string): void {
  // An empty string is how a blank input arrives: it does not answer a required field.
  if (field.required && value === "") throw new InvalidFieldError(path, "required: an empty string does not answer it");
  if (value.includes("\u0000")) throw new InvalidFieldError(path, "contains a NUL character");
  if (field.type === FieldType.TEXT && LINE_BREAK.test(value)) {
    throw new InvalidFieldError(path, "must be a single line (use a TEXTAREA field for several)");
  }
  if (field.type === FieldType.EMAIL && !isEmail(value)) {
    throw new InvalidFieldError(path, `${quote(value)} is not an email address (like ops@example.com)`);
  }
  if (field.type === FieldType.URI && !isAbsoluteUri(value)) {
    throw new InvalidFieldError(path, `${quote(value)} is not an absolute URI with a scheme (like https://example.com/x)`);
  }
  if (field.minLength !== undefined || field.maxLength !== undefined) {
    const length = codePointLength(value);
    if (field.minLength !== undefined && length < field.minLength) {
      throw new InvalidFieldError(path, `${length} characters, under the minimum of ${field.minLength}`);
    }
    if (field.maxLength !== undefined && length > field.maxLength) {
      throw new InvalidFieldError(path, `${length} characters, over the limit of ${field.maxLength}`);
    }
  }
  if (field.pattern !== "" && !compileFieldPattern(field.pattern).test(value)) {
    throw new InvalidFieldError(path, `${quote(value)} does not match the pattern ${quote(field.pattern)}`);
  }
}

function checkNumber(field: FormField, value: JsonValue, path: string): void {
  if (typeof value !== "number") throw new InvalidFieldError(path, `expected a number, got ${describeJson(value)}`);
  if (!Number.isFinite(value)) throw new InvalidFieldError(path, "must be a finite number");
  if (field.type === FieldType.INTEGER) {
    if (!Number.isInteger(value)) throw new InvalidFieldError(path, `expected a whole number, got ${value}`);
    if (Math.abs(value) > INTEGER_LIMIT) throw new InvalidFieldError(path, `${value} is outside ±2^53`);
  }
  if (field.minimum !== undefined && value < field.minimum) throw new InvalidFieldError(path, `${value} is under the minimum of ${field.minimum}`);
  if (field.maximum !== undefined && value > field.maximum) throw new InvalidFieldError(path, `${value} is over the maximum of ${field.maximum}`);
}

function isEmail(value: string): boolean {
  const at = value.lastIndexOf("@");
  // RFC 5321 limits: 64 for the local part, 254 for the whole address.
  return at > 0 && at <= 64 && value.length <= 254 && EMAIL.test(value);
}

function isAbsoluteUri(value: string): boolean {
  // The URL parser trims and drops whitespace and percent-encodes spaces; a URI has none at all.
  if (/[\s\u0000-\u001f\u007f]/u.test(value) || !SCHEME.test(value)) return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

function checkDate(value: string, path: string): void {
  const match = DATE.exec(value);
  if (!match || !isCalendarDate(Number(match[1]), Number(match[2]), Number(match[3]))) {
    throw new InvalidFieldError(path, `${quote(value)} is not a calendar date (YYYY-MM-DD)`);
  }
}

function checkDateTime(value: string, path: string): void {
  const match = DATE_TIME.exec(value);
  if (!match || !isRealDateTime(match)) {
    throw new InvalidFieldError(path, `${quote(value)} is not an RFC 3339 date-time with offset (like 2025-01-31T17:00:00Z)`);
  }
}

function isRealDateTime(match: RegExpExecArray): boolean {
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const sign = match[7];
  const offsetHour = Number(match[8] ?? 0);
  const offsetMinute = Number(match[9] ?? 0);
  if (!isCalendarDate(year, month, day) || hour > 23 || minute > 59 || second > 60) return false;
  if (offsetHour > 23 || offsetMinute > 59) return false;
  if (second === 60) {
    // A leap second only ever ends a UTC day: 23:59:60Z, whatever offset it is written in.
    const offset = (sign === "-" ? -1 : 1) * (offsetHour * 60 + offsetMinute);
    const utcMinute = (((hour * 60 + minute - offset) % 1_440) + 1_440) % 1_440;
    return utcMinute === 23 * 60 + 59;
  }
  return true;
}

function isCalendarDate(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
  return day <= days;
}
