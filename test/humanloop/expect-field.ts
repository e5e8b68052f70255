/** Assertions for InvalidFieldError: that a call throws one, naming exactly the expected field. */
import { expect } from "chai";
import { InvalidFieldError } from "../../src/humanloop/errors.js";

/**
 * Asserts that `call` throws an InvalidFieldError for `field` (exactly), and when given, that its
 * reason matches `reason`.
 */
export function expectInvalid(call: () => unknown, field: string, reason?: RegExp): InvalidFieldError {
  expect(call).to.throw(InvalidFieldError);
  let error: unknown;
  try {
    call();
  } catch (thrown) {
    error = thrown;
  }
  const invalid = error as InvalidFieldError;
  expect(invalid.field, invalid.message).to.equal(field);
  expect(invalid.message).to.equal(`${field}: ${invalid.reason}`);
  if (reason) expect(invalid.reason).to.match(reason);
  return invalid;
}
