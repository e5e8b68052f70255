/**
 * The fields a privacy policy can name: a small explicit table, not a reflection engine over every
 * message. Each entry is a text field or a google.protobuf.Struct of InteractionEvent's detail (or
 * the event's attributes); a Struct's top-level keys are named `<struct path>.<key>`.
 *
 * The property names come from the generated descriptors (and are checked against them when this
 * module loads), so a renamed proto field breaks the start, not the privacy of stored data.
 */
import { ScalarType, type DescMessage } from "@bufbuild/protobuf";
import {
  ErrorInfoSchema,
  InteractionEventSchema,
  ProgressInfoSchema,
  RequestInfoSchema,
  ResultInfoSchema,
} from "../../../gen/coordinator/v1/interaction_event_pb.js";

/** Which oneof case of InteractionEvent.detail holds the field; undefined: the event itself. */
export type DetailCase = "request" | "progress" | "result" | "error";

/** One field a policy can name. */
export interface FieldSpec {
  /** As written in the policy: "request.user_id", "attributes". */
  path: string;
  kind: "text" | "struct";
  detail: DetailCase | undefined;
  /** The property of the detail message (or of the event) holding the value, e.g. "userId". */
  property: string;
  /** Its field number in that message (for re-encoding it alone). */
  number: number;
}

function spec(path: string, kind: FieldSpec["kind"], detail: DetailCase | undefined, schema: DescMessage, protoName: string): FieldSpec {
  const field = schema.fields.find((f) => f.name === protoName);
  const ok =
    field !== undefined &&
    (kind === "text"
      ? field.fieldKind === "scalar" && field.scalar === ScalarType.STRING
      : field.fieldKind === "message" && field.message.typeName === "google.protobuf.Struct");
  if (!ok) throw new Error(`privacy field table: ${schema.typeName}.${protoName} is not a ${kind} field`);
  return { path, kind, detail, property: field.localName, number: field.number };
}

/** Every field a policy can name, in the order the documentation lists them. */
export const PRIVACY_FIELDS: readonly FieldSpec[] = [
  spec("request.user_id", "text", "request", RequestInfoSchema, "user_id"),
  spec("request.parameters", "struct", "request", RequestInfoSchema, "parameters"),
  spec("progress.message", "text", "progress", ProgressInfoSchema, "message"),
  spec("progress.data", "struct", "progress", ProgressInfoSchema, "data"),
  spec("result.error_message", "text", "result", ResultInfoSchema, "error_message"),
  spec("result.data", "struct", "result", ResultInfoSchema, "data"),
  spec("error.message", "text", "error", ErrorInfoSchema, "message"),
  spec("error.data", "struct", "error", ErrorInfoSchema, "data"),
  spec("attributes", "struct", undefined, InteractionEventSchema, "attributes"),
];

/** The fields of one detail case (or of the event itself, for undefined). */
export function fieldsOf(detail: DetailCase | undefined): FieldSpec[] {
  return PRIVACY_FIELDS.filter((f) => f.detail === detail);
}

/** The paths as a user may write them, for error messages and help. */
export function supportedPaths(): string {
  return PRIVACY_FIELDS.map((f) => (f.kind === "struct" ? `${f.path}, ${f.path}.<key>` : f.path)).join(", ");
}
