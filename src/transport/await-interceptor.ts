/**
 * AwaitDecision served at the grpc-js level, as a server interceptor that answers the call itself.
 *
 * Why: a workflow engine may keep ten thousand decisions awaited at once, each an open stream
 * that sits idle for hours. Served through nice-grpc, every such call holds nice-grpc's call
 * context (an AbortController, three Metadata maps, listeners), the middleware's and the
 * handler's suspended generators with their promises, and grpc-js's writable-stream wrapper:
 * about 10 KB of the ~26 KB an awaiting stream cost. Here a call is a listener, one small
 * state object and the follow subscription.
 *
 * The rules are the same as for every other method: the key is authenticated and its role
 * checked (auth-middleware.ts authorize) before the request is looked at; errors become statuses
 * as in error-middleware.ts; one log line per finished call. The nice-grpc handler of the method
 * stays registered (reflection and routing need it) but calls never reach it.
 */
import { Metadata, ServerInterceptingCall, type ServerInterceptingCallInterface, type ServerInterceptor } from "@grpc/grpc-js";
import { AbortError, isAbortError } from "abort-controller-x";
import { Status } from "nice-grpc-common";
import type { Logger } from "pino";
import type { AwaitDecisionRequest } from "../../gen/coordinator/v1/decision_queries_pb.js";
import { HumanLoopService } from "../../gen/coordinator/v1/human_loop_service_pb.js";
import type { Authenticator } from "../auth/authenticator.js";
import type { DecisionFollower } from "../humanloop/decision-follower.js";
import type { DecisionStreams } from "../humanloop/decision-streams.js";
import { authorize } from "./auth-middleware.js";
import { isExpectedError, isServerFault, statusOf } from "./error-middleware.js";
import { MalformedRequest } from "./malformed.js";

/** The method this interceptor serves. */
export const AWAIT_DECISION_PATH = `/${HumanLoopService.typeName}/${HumanLoopService.method.awaitDecision.name}`;

/** What serving AwaitDecision needs. */
export interface AwaitDecisionDeps {
  authenticator: Authenticator;
  logger: Logger;
  streams: DecisionStreams;
}

/**
 * The interceptor: AwaitDecision calls are answered here; every other call passes through as it
 * is (the same call object, so they carry no extra wrapper).
 */
export function awaitDecisionInterceptor(deps: AwaitDecisionDeps): ServerInterceptor {
  return (method, call) => {
    // grpc-js chains whatever an interceptor returns; returning the call itself adds nothing.
    if (method.path !== AWAIT_DECISION_PATH) return call as ServerInterceptingCall;
    return new ServerInterceptingCall(call, { start: (next) => next(awaitListener(call, deps)) });
  };
}

/**
 * The call's listener. grpc-js calls its methods detached from the object, so they are closures
 * over the call's state rather than methods of a class.
 */
function awaitListener(call: ServerInterceptingCallInterface, deps: AwaitDecisionDeps) {
  const state: CallState = { metadata: undefined, request: undefined, follower: undefined, cancelled: false, sending: undefined, started: performance.now() };
  return {
    onReceiveMetadata(metadata: Metadata) {
      state.metadata = metadata;
      call.startRead();
    },
    onReceiveMessage(message: unknown) {
      if (state.request !== undefined) {
        finish(call, deps, state, Status.UNIMPLEMENTED, "AwaitDecision takes one request message; got a second");
        return;
      }
      state.request = message;
      call.startRead();
    },
    onReceiveHalfClose() {
      void serve(call, deps, state);
    },
    onCancel() {
      state.cancelled = true;
      state.follower?.cancel();
      state.sending?.(new AbortError());
    },
  };
}

interface CallState {
  metadata: Metadata | undefined;
  request: unknown;
  follower: DecisionFollower | undefined;
  /** The client cancelled (or the call ended). */
  cancelled: boolean;
  /** Rejects the message being written, when the call is cancelled meanwhile. */
  sending: ((error: Error) => void) | undefined;
  started: number;
}

async function serve(call: ServerInterceptingCallInterface, deps: AwaitDecisionDeps, state: CallState): Promise<void> {
  try {
    if (state.request === undefined) {
      finish(call, deps, state, Status.UNIMPLEMENTED, "AwaitDecision takes one request message; got none");
      return;
    }
    const authorization = state.metadata?.get("authorization")[0];
    await authorize(deps.authenticator, deps.logger, AWAIT_DECISION_PATH, typeof authorization === "string" ? authorization : undefined);
    const request = state.request;
    state.metadata = undefined;
    state.request = undefined;
    if (request instanceof MalformedRequest) {
      finish(call, deps, state, Status.INVALID_ARGUMENT, request.describe());
      return;
    }
    if (state.cancelled) return;
    const follower = (state.follower = deps.streams.follow((request as AwaitDecisionRequest).decisionId));
    for (;;) {
      const result = await follower.next();
      if (result.done) break;
      await send(call, state, { decision: result.value });
    }
    finish(call, deps, state, Status.OK, "");
  } catch (error) {
    if (isAbortError(error) || state.cancelled) {
      deps.logger.debug({ method: AWAIT_DECISION_PATH, peer: call.getPeer(), code: "CANCELLED" }, "call cancelled by the client");
      return;
    }
    const status = statusOf(error);
    if (!isExpectedError(error)) deps.logger.error({ method: AWAIT_DECISION_PATH, peer: call.getPeer(), err: error }, "unexpected error in handler");
    finish(call, deps, state, status.code, status.details);
  }
}

/** Writes one message; resolves once grpc-js took it (backpressure), rejects if the call is cancelled first. */
function send(call: ServerInterceptingCallInterface, state: CallState, message: object): Promise<void> {
  return new Promise((resolve, reject) => {
    if (state.cancelled) return reject(new AbortError());
    state.sending = reject;
    call.sendMessage(message, () => {
      state.sending = undefined;
      resolve();
    });
  });
}

/** Ends the call with a status and writes its log line. */
function finish(call: ServerInterceptingCallInterface, deps: AwaitDecisionDeps, state: CallState, code: Status, details: string): void {
  const fields = { method: AWAIT_DECISION_PATH, peer: call.getPeer(), ms: Math.round(performance.now() - state.started), code: Status[code] };
  if (code === Status.OK) deps.logger.debug(fields, "call finished");
  else deps.logger[isServerFault(code) ? "warn" : "info"]({ ...fields, details }, "call failed");
  call.sendStatus({ code, details, metadata: new Metadata() });
  // Ends the follow subscription if it is still open (e.g. a second request message).
  state.follower?.cancel();
}
