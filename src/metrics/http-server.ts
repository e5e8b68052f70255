/**
 * The HTTP server Prometheus scrapes: GET (or HEAD) /metrics answers the registry in the text
 * exposition format; any other path is 404. No authentication: bind it to an address only the
 * monitoring network reaches.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Registry } from "prom-client";

/** A listening metrics server. */
export interface MetricsServer {
  /** The bound port (the configured one, or the one picked for port 0). */
  port: number;
  /** Stops listening and closes open (keep-alive) connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts serving `registry` at http://`listen`/metrics.
 *
 * @param listen - host:port or [ipv6]:port; port 0 picks a free port.
 * @throws when the address cannot be bound (in use, not local).
 */
export async function startMetricsServer(listen: string, registry: Registry, logger: Logger): Promise<MetricsServer> {
  const log = logger.child({ component: "metrics" });
  const server = createServer((request, response) => respond(request, response, registry, log));
  const colon = listen.lastIndexOf(":");
  const host = listen.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  const port = Number(listen.slice(colon + 1));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err) => log.error({ err }, "metrics server error"));
  const bound = (server.address() as AddressInfo).port;
  log.info({ address: listen, port: bound }, "metrics server listening (GET /metrics)");

  let closing: Promise<void> | undefined;
  return {
    port: bound,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A scraper's keep-alive connection would otherwise hold close() open until it times out.
        server.closeAllConnections();
      })),
  };
}

function respond(request: IncomingMessage, response: ServerResponse, registry: Registry, log: Logger): void {
  const path = (request.url ?? "/").split("?", 1)[0];
  if (path !== "/metrics") {
    response.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found: metrics are served at /metrics\n");
    return;
  }
  if (request.method !== "GET" && request.method !== "HEAD") {
    response.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" }).end("use GET /metrics\n");
    return;
  }
  registry.metrics().then(
    (body) => {
      response.writeHead(200, { "content-type": registry.contentType, "cache-control": "no-store" });
      response.end(request.method === "HEAD" ? undefined : body);
    },
    (err: unknown) => {
      log.error({ err }, "collecting metrics failed");
      response.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end("collecting metrics failed; see the coordinator's log\n");
    },
  );
}
