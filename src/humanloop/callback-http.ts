/**
 * One callback POST over node:http(s): the worker needs the status only, no redirects followed,
 * and control of the socket's DNS lookup (see callback-address.ts), which fetch does not offer
 * without a second HTTP client.
 */
import http from "node:http";
import https from "node:https";
import { publicOnlyLookup } from "./callback-address.js";

/** How to send. */
export interface PostOptions {
  headers: Record<string, string>;
  body: string;
  /** Ends the request (and its wait for response headers) when it aborts. */
  signal: AbortSignal;
  /** Whether the host may resolve to loopback, private or link-local addresses. */
  allowPrivateAddresses: boolean;
}

/**
 * POSTs `body` to `url` and resolves with the response status once the headers arrived; the
 * response body is discarded. A 3xx is returned as it is, never followed.
 *
 * @throws the socket's error: a refused lookup (PrivateAddressError), a connection error, or an
 *   AbortError when `signal` aborts.
 */
export function postCallback(url: string, options: PostOptions): Promise<number> {
  const target = new URL(url);
  const request = target.protocol === "https:" ? https.request : http.request;
  const body = Buffer.from(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: "POST",
        headers: { ...options.headers, "content-length": String(body.length) },
        signal: options.signal,
        // A fresh connection per callback: each one's address passes the lookup's check.
        agent: false,
        ...(options.allowPrivateAddresses ? {} : { lookup: publicOnlyLookup }),
      },
      (response) => {
        // The receiver's body is not needed; draining it lets the socket close.
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
