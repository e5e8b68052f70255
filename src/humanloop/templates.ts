/**
 * ListTemplates: the predefined decision shapes the seeds' human-in-the-loop component shipped
 * (a confirmation, an environment selection, a server-config form, a config-file upload), as
 * ready-to-fill CreateDecision requests. Each is checked against the same validation as a real
 * request in the tests, so a template can never be one the server would refuse.
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { CreateDecisionRequestSchema } from "../../gen/coordinator/v1/decision_commands_pb.js";
import { TimeoutPolicy } from "../../gen/coordinator/v1/decision_policy_pb.js";
import { ResponseAction } from "../../gen/coordinator/v1/decision_response_pb.js";
import { FieldType } from "../../gen/coordinator/v1/decision_spec_pb.js";
import { DecisionTemplateSchema, type DecisionTemplate } from "../../gen/coordinator/v1/decision_template_pb.js";

const HOUR = 3_600_000;

/** The templates, ordered by name. */
export function decisionTemplates(): DecisionTemplate[] {
  return [
    template("config-file-upload", "Ask for a configuration file (YAML or JSON, up to 1 MiB).", {
      title: "Upload the configuration file",
      message: "Upload the configuration the workflow should apply.",
      spec: { kind: { case: "fileUpload", value: { acceptTypes: [".yaml", ".yml", ".json", "application/json", "application/yaml"], maxBytes: 1024n * 1024n, maxFiles: 1, minFiles: 1 } } },
      timeout: durationFromMs(24 * HOUR),
    }),
    template("confirm", "A yes/no confirmation that declines by itself when nobody answers in an hour.", {
      title: "Confirm the operation",
      message: "Confirm to let the workflow go on.",
      spec: { kind: { case: "confirmation", value: { confirmLabel: "Confirm", declineLabel: "Cancel" } } },
      timeout: durationFromMs(HOUR),
      onTimeout: TimeoutPolicy.APPLY_DEFAULT,
      defaultResponse: { action: ResponseAction.DECLINE, comment: "no answer within the deadline" },
    }),
    template("select-environment", "Choose the environment to deploy to.", {
      title: "Choose the target environment",
      spec: {
        kind: {
          case: "selection",
          value: {
            options: [
              { value: "development", label: "Development" },
              { value: "staging", label: "Staging" },
              { value: "production", label: "Production", description: "Customer-facing: double-check the change." },
            ],
          },
        },
      },
      timeout: durationFromMs(4 * HOUR),
    }),
    template("server-config", "A form for a server's host, port, TLS flag and admin email.", {
      title: "Server configuration",
      spec: {
        kind: {
          case: "form",
          value: {
            fields: [
              { name: "host", label: "Host name", type: FieldType.TEXT, required: true, maxLength: 253, pattern: "[A-Za-z0-9.-]+" },
              { name: "port", label: "Port", type: FieldType.INTEGER, required: true, minimum: 1, maximum: 65535, defaultValue: { kind: { case: "numberValue", value: 443 } } },
              { name: "tls", label: "Use TLS", type: FieldType.BOOLEAN, required: true, defaultValue: { kind: { case: "boolValue", value: true } } },
              { name: "admin_email", label: "Administrator email", type: FieldType.EMAIL },
            ],
          },
        },
      },
      timeout: durationFromMs(24 * HOUR),
    }),
  ];
}

function template(name: string, description: string, prototype: Parameters<typeof create<typeof CreateDecisionRequestSchema>>[1]): DecisionTemplate {
  return create(DecisionTemplateSchema, { name, description, prototype: create(CreateDecisionRequestSchema, prototype) });
}
