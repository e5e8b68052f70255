/**
 * Implementations that answer UNIMPLEMENTED, naming the RPC and the work that will provide it.
 * Services start from these and replace methods as they are built, so every RPC of the contract
 * is routable (and authenticated) from day one.
 */
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { ServerError, Status } from "nice-grpc-common";

/**
 * Builds a handler per method of `service`, each throwing UNIMPLEMENTED.
 *
 * @param service - the generated service.
 * @param plannedIn - what will implement a method (by its proto name), e.g. "issue #3 (ingest)";
 *   shown to callers.
 */
export function unimplementedHandlers<S extends GenServiceMethods>(
  service: GenService<S>,
  plannedIn: (methodName: string) => string,
): Record<keyof S, (...args: unknown[]) => unknown> {
  const handlers: Record<string, (...args: unknown[]) => unknown> = {};
  for (const method of service.methods) {
    const error = () =>
      new ServerError(Status.UNIMPLEMENTED, `${service.typeName}/${method.name} is not implemented yet; it arrives with ${plannedIn(method.name)}`);
    const streamsResponses = method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming";
    // nice-grpc drives streaming responses as async generators and the rest as async functions.
    handlers[method.localName] = streamsResponses
      ? async function* () {
          throw error();
        }
      : async () => {
          throw error();
        };
  }
  return handlers as Record<keyof S, (...args: unknown[]) => unknown>;
}
