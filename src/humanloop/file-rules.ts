/**
 * The rules of file uploads: a file_upload spec's own rules (CreateDecision) and the files of an
 * answer (Respond): count, names, sizes, accepted types and checksums.
 */
import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { UploadedFileSchema, type UploadedFile } from "../../gen/coordinator/v1/decision_response_pb.js";
import type { FileUploadSpec } from "../../gen/coordinator/v1/decision_spec_pb.js";
import { InvalidFieldError } from "./errors.js";
import { DEFAULT_SPEC_MAX_FILE_BYTES } from "./limits.js";
import { checkText, quote } from "./text-rules.js";

// RFC 9110 token characters: what a media type's type and subtype are made of.
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const MEDIA_TYPE = new RegExp(`^(${TOKEN})/(${TOKEN})$`);
// ".yaml", ".tar.gz": dot-separated, non-empty parts, nothing that could not sit in a file name.
const EXTENSION = /^(?:\.[^\s/\\.\u0000-\u001f\u007f]+)+$/u;

/**
 * The largest file an answer to this spec may carry, in bytes: max_bytes, or for 0 the contract's
 * 10 MiB lowered to the server's cap.
 */
export function resolvedMaxFileBytes(spec: FileUploadSpec, serverMaxFileBytes: number): number {
  return spec.maxBytes === 0n ? Math.min(DEFAULT_SPEC_MAX_FILE_BYTES, serverMaxFileBytes) : Number(spec.maxBytes);
}

/** The fewest and most files an accepting answer carries (0 stands for 1 in both). */
export function fileCountBounds(spec: FileUploadSpec): { min: number; max: number } {
  return { min: spec.minFiles || 1, max: spec.maxFiles || 1 };
}

/**
 * Checks a file_upload spec.
 *
 * @param path - the spec's path, "spec.file_upload".
 * @param serverMaxFileBytes - the server's per-file cap (DecisionLimits.maxFileBytes).
 * @throws InvalidFieldError naming the bad part.
 */
export function checkFileUploadSpec(path: string, spec: FileUploadSpec, serverMaxFileBytes: number): void {
  spec.acceptTypes.forEach((entry, i) => {
    if (!isAcceptEntry(entry)) {
      throw new InvalidFieldError(`${path}.accept_types[${i}]`, `${quote(entry)} is not a media type ("application/json"), a wildcard ("image/*") or an extension (".yaml")`);
    }
  });
  if (spec.maxBytes > BigInt(serverMaxFileBytes)) {
    throw new InvalidFieldError(`${path}.max_bytes`, `${spec.maxBytes} bytes does not fit the server's limit of ${serverMaxFileBytes} bytes per file`);
  }
  const { min, max } = fileCountBounds(spec);
  if (min > max) throw new InvalidFieldError(`${path}.min_files`, `${min} is over max_files ${max}${spec.maxFiles === 0 ? " (0 means 1)" : ""}`);
}

function isAcceptEntry(entry: string): boolean {
  if (entry.startsWith(".")) return EXTENSION.test(entry);
  const match = MEDIA_TYPE.exec(entry);
  if (!match) return false;
  const [, type, subtype] = match as unknown as [string, string, string];
  // "*" is a token character, but only a whole type or subtype is a wildcard ("*/json" means nothing).
  if (type.includes("*") && (type !== "*" || subtype !== "*")) return false;
  return !subtype.includes("*") || subtype === "*";
}

/**
 * Checks the files of an accepting answer and returns copies completed by the server: every file
 * gets its size_bytes and sha256 (the responder's size_bytes is ignored, as the contract says).
 *
 * @param path - the value's path, e.g. "response.value.files"; files are named "...files[i]".
 * @throws InvalidFieldError naming the bad file or part.
 */
export function checkFiles(path: string, spec: FileUploadSpec, files: readonly UploadedFile[], serverMaxFileBytes: number): UploadedFile[] {
  const { min, max } = fileCountBounds(spec);
  const list = `${path}.files`;
  if (files.length < min) throw new InvalidFieldError(list, `${files.length} files, at least ${min} required`);
  if (files.length > max) throw new InvalidFieldError(list, `${files.length} files, at most ${max} allowed`);
  const maxBytes = resolvedMaxFileBytes(spec, serverMaxFileBytes);
  return files.map((file, i) => {
    const at = `${list}[${i}]`;
    checkFileName(`${at}.name`, file.name);
    if (file.contentType !== "" && mediaType(file.contentType) === undefined) {
      throw new InvalidFieldError(`${at}.content_type`, `${quote(file.contentType)} is not a media type (type/subtype)`);
    }
    if (file.content.length > maxBytes) {
      throw new InvalidFieldError(`${at}.content`, `${file.content.length} bytes, over the limit of ${maxBytes}`);
    }
    if (spec.acceptTypes.length > 0 && !spec.acceptTypes.some((entry) => accepts(entry, file))) {
      throw new InvalidFieldError(at, `neither its content_type nor its name matches accept_types (${spec.acceptTypes.join(", ")})`);
    }
    const sha256 = createHash("sha256").update(file.content).digest("hex");
    if (file.sha256 !== "" && file.sha256 !== sha256) {
      const reason = file.sha256.toLowerCase() === sha256 ? "must be lower-case hex" : `does not match the content (its SHA-256 is ${sha256})`;
      throw new InvalidFieldError(`${at}.sha256`, reason);
    }
    return create(UploadedFileSchema, {
      name: file.name,
      contentType: file.contentType,
      content: file.content,
      sha256,
      sizeBytes: BigInt(file.content.length),
    });
  });
}

function checkFileName(path: string, name: string): void {
  checkText(path, name, { min: 1, max: 255 });
  // The name is shown and may become a download name: no directories, nothing that walks up.
  if (/[/\\]/.test(name)) throw new InvalidFieldError(path, `${quote(name)} must not contain "/" or "\\" (a name without directories)`);
  if (name === "." || name === "..") throw new InvalidFieldError(path, `${quote(name)} is not a file name`);
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new InvalidFieldError(path, "contains control characters");
}

/** "type/subtype" in lower case, without parameters; undefined when it is no media type. */
function mediaType(contentType: string): string | undefined {
  const bare = contentType.split(";", 1)[0]!.trim().toLowerCase();
  const match = MEDIA_TYPE.exec(bare);
  return match && !bare.includes("*") ? bare : undefined;
}

function accepts(entry: string, file: UploadedFile): boolean {
  const wanted = entry.toLowerCase();
  if (wanted.startsWith(".")) return file.name.toLowerCase().endsWith(wanted);
  if (wanted === "*/*") return true;
  const type = mediaType(file.contentType);
  if (type === undefined) return false;
  return wanted.endsWith("/*") ? type.startsWith(wanted.slice(0, -1)) : type === wanted;
}
