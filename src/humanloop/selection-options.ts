/**
 * The rules of a list of SelectionOption, shared by selection specs and ENUM form fields: 1 to 100
 * options, each value 1 to 128 characters and unique, labels and descriptions bounded.
 */
import type { SelectionOption } from "../../gen/coordinator/v1/decision_spec_pb.js";
import { InvalidFieldError } from "./errors.js";
import { checkText, quote } from "./text-rules.js";

/** Most options in one list. */
export const MAX_OPTIONS = 100;

/**
 * Checks a list of options.
 *
 * @param path - the list's path, e.g. "spec.selection.options" or "spec.form.fields[3].options";
 *   a bad option is named by index below it ("spec.selection.options[1].value").
 * @throws InvalidFieldError naming the list or the bad option's part.
 */
export function checkOptions(path: string, options: readonly SelectionOption[]): void {
  if (options.length === 0) throw new InvalidFieldError(path, "at least one option is required");
  if (options.length > MAX_OPTIONS) throw new InvalidFieldError(path, `${options.length} options, over the limit of ${MAX_OPTIONS}`);
  const seen = new Map<string, number>();
  options.forEach((option, i) => {
    const at = `${path}[${i}]`;
    checkText(`${at}.value`, option.value, { min: 1, max: 128 });
    const first = seen.get(option.value);
    // Answers carry values, not indexes: two equal values could not be told apart.
    if (first !== undefined) throw new InvalidFieldError(`${at}.value`, `${quote(option.value)} repeats the value of option ${first}`);
    seen.set(option.value, i);
    checkText(`${at}.label`, option.label, { max: 256 });
    checkText(`${at}.description`, option.description, { max: 1_024 });
  });
}
