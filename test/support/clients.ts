/**
 * Typed nice-grpc clients for tests, built with the same adapter the server uses.
 */
import { createChannel, createClient, Metadata, type Channel } from "nice-grpc";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { toNiceDefinition } from "../../src/transport/definition.js";

/**
 * Creates a client for `service` at `address`, sending `token` as the bearer key when given.
 *
 * @returns the client and its channel (close the channel when done).
 */
export function clientFor<S extends GenServiceMethods>(service: GenService<S>, address: string, token?: string) {
  const channel: Channel = createChannel(address);
  const client = createClient(toNiceDefinition(service), channel, {
    "*": token ? { metadata: Metadata({ authorization: `Bearer ${token}` }) } : {},
  });
  return { client, channel };
}
