/**
 * The rules of a form spec itself (CreateDecision): 1 to 100 uniquely named, typed fields whose
 * rules fit their type, and whose default values pass those rules.
 */
import { toJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { FieldType, type FormField, type FormSpec } from "../../gen/coordinator/v1/decision_spec_pb.js";
import { InvalidFieldError } from "./errors.js";
import { checkFieldValue, compileFieldPattern, NUMBER_TYPES, STRING_TYPES } from "./field-values.js";
import { checkOptions } from "./selection-options.js";
import { checkText, quote } from "./text-rules.js";

/** Most fields in one form. */
export const MAX_FORM_FIELDS = 100;

const FIELD_NAME = /^[A-Za-z0-9_]{1,64}$/;

/**
 * Checks a form spec.
 *
 * @param path - the form's path, "spec.form"; fields are named below it ("spec.form.fields[2].pattern").
 * @throws InvalidFieldError naming the bad part.
 */
export function checkFormSpec(path: string, form: FormSpec): void {
  const fields = `${path}.fields`;
  if (form.fields.length === 0) throw new InvalidFieldError(fields, "at least one field is required");
  if (form.fields.length > MAX_FORM_FIELDS) {
    throw new InvalidFieldError(fields, `${form.fields.length} fields, over the limit of ${MAX_FORM_FIELDS}`);
  }
  const seen = new Map<string, number>();
  form.fields.forEach((field, i) => {
    const at = `${fields}[${i}]`;
    if (field.name === "") throw new InvalidFieldError(`${at}.name`, "required");
    if (!FIELD_NAME.test(field.name)) {
      throw new InvalidFieldError(`${at}.name`, `${quote(field.name)} must be 1 to 64 characters from A-Z, a-z, 0-9 and _`);
    }
    const first = seen.get(field.name);
    // The answer is an object keyed by name: two fields with one name would share one value.
    if (first !== undefined) throw new InvalidFieldError(`${at}.name`, `${quote(field.name)} repeats the name of field ${first}`);
    seen.set(field.name, i);
    checkField(at, field);
  });
}

function checkField(at: string, field: FormField): void {
  checkText(`${at}.label`, field.label, { max: 256 });
  if (field.type === FieldType.UNSPECIFIED) throw new InvalidFieldError(`${at}.type`, "required (FIELD_TYPE_TEXT, _NUMBER, _ENUM, ...)");
  const typeName = FieldType[field.type];
  if (typeName === undefined) throw new InvalidFieldError(`${at}.type`, `unknown value ${field.type}`);
  checkLengthRules(at, field, typeName);
  checkPattern(at, field, typeName);
  checkBounds(at, field, typeName);
  if (field.type === FieldType.ENUM) {
    checkOptions(`${at}.options`, field.options);
  } else if (field.options.length > 0) {
    throw new InvalidFieldError(`${at}.options`, `only for ENUM fields, not ${typeName}`);
  }
  checkText(`${at}.description`, field.description, { max: 1_024 });
  checkText(`${at}.placeholder`, field.placeholder, { max: 256 });
  // Last: the default is checked with the field's rules, which must be sound first.
  if (field.defaultValue) checkFieldValue(field, defaultJson(`${at}.default_value`, field), `${at}.default_value`);
}

// Rules that do not apply to a type are refused rather than ignored: a rule the server silently
// skips is a rule the author believes is enforced.
function notFor(path: string, typeName: string, applies: string): InvalidFieldError {
  return new InvalidFieldError(path, `only for ${applies} fields, not ${typeName}`);
}

function checkLengthRules(at: string, field: FormField, typeName: string): void {
  if (STRING_TYPES.has(field.type)) {
    if (field.minLength !== undefined && field.maxLength !== undefined && field.maxLength < field.minLength) {
      throw new InvalidFieldError(`${at}.max_length`, `${field.maxLength} is under min_length ${field.minLength}`);
    }
    return;
  }
  if (field.minLength !== undefined) throw notFor(`${at}.min_length`, typeName, "TEXT, TEXTAREA, EMAIL and URI");
  if (field.maxLength !== undefined) throw notFor(`${at}.max_length`, typeName, "TEXT, TEXTAREA, EMAIL and URI");
}

function checkPattern(at: string, field: FormField, typeName: string): void {
  if (field.pattern === "") return;
  const path = `${at}.pattern`;
  if (!STRING_TYPES.has(field.type)) throw notFor(path, typeName, "TEXT, TEXTAREA, EMAIL and URI");
  checkText(path, field.pattern, { max: 1_024 });
  try {
    compileFieldPattern(field.pattern);
  } catch (error) {
    throw new InvalidFieldError(path, `does not compile: ${(error as Error).message}`);
  }
}

function checkBounds(at: string, field: FormField, typeName: string): void {
  if (!NUMBER_TYPES.has(field.type)) {
    if (field.minimum !== undefined) throw notFor(`${at}.minimum`, typeName, "NUMBER and INTEGER");
    if (field.maximum !== undefined) throw notFor(`${at}.maximum`, typeName, "NUMBER and INTEGER");
    return;
  }
  if (field.minimum !== undefined && !Number.isFinite(field.minimum)) throw new InvalidFieldError(`${at}.minimum`, "must be a finite number");
  if (field.maximum !== undefined && !Number.isFinite(field.maximum)) throw new InvalidFieldError(`${at}.maximum`, "must be a finite number");
  if (field.minimum !== undefined && field.maximum !== undefined && field.maximum < field.minimum) {
    throw new InvalidFieldError(`${at}.maximum`, `${field.maximum} is under minimum ${field.minimum}`);
  }
}

/** The default value as plain JSON; a Value with no kind, or NaN/Infinity, is no JSON value. */
function defaultJson(path: string, field: FormField): JsonValue {
  try {
    return toJson(ValueSchema, field.defaultValue!);
  } catch (error) {
    throw new InvalidFieldError(path, `not a JSON value: ${(error as Error).message}`);
  }
}
