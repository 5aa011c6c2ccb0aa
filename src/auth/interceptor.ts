import { Code, ConnectError, createContextKey, type ContextValues, type Interceptor } from "@connectrpc/connect";
import { createAsyncIterable } from "@connectrpc/connect/protocol";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { accessRuleFor } from "./access-rules.js";
import { unauthenticated, type CallTransport, type QueueCheck, type Target } from "./identity.js";
import type { Logger } from "../observability/logger.js";
import type { SubscriptionLimit } from "./subscription-limit.js";

/**
 * Set by the interceptor for methods whose queues only the handler learns:
 * resolves when the caller may watch the target's queue, throws the refusal
 * otherwise. Without a caller check configured, every queue is allowed.
 */
export const QUEUE_CHECK = createContextKey<(target: Target) => Promise<void>>(() => Promise.resolve());

/** Set per request by the adapter, read by the interceptor: what the connection knows. */
export const CALL_TRANSPORT = createContextKey<CallTransport>({ remoteAddress: "" });

export interface CallerAuthInterceptorDeps {
  readonly check: QueueCheck;
  readonly limit: SubscriptionLimit;
  /** Whether the job set is already followed, so reading it starts nothing new. */
  readonly follows: (target: Target) => boolean;
  readonly record: (outcome: string) => void;
  /**
   * Whether callers must bring a credential (every mode but none). Methods
   * whose queues only the handler learns refuse a call without one at once,
   * before the handler asks Armada anything on its behalf.
   */
  readonly requireCredentials?: boolean;
  /** Each decision at trace level: who, which queue, what outcome; never the credential. */
  readonly logger: Pick<Logger, "trace" | "isLevelEnabled">;
}

/**
 * The one caller check, for every protocol: it runs after the request is
 * decoded and before the handler, so a refused caller never starts a
 * subscription, never makes the service open a stream to Armada and never
 * learns whether a job set exists.
 */
export function callerAuthInterceptor(deps: CallerAuthInterceptorDeps): Interceptor {
  /** Resolves when the caller may make this call; throws the refusal otherwise. */
  async function authorize(target: Target, header: Headers, values: ContextValues): Promise<void> {
    // Nothing to ask about: the handler refuses it with INVALID_ARGUMENT before reading anything.
    if (target.queue === "") return;
    // Without per-request transport facts (armada, oidc and basic modes without client certificates) the key's default applies.
    const caller = { authorization: header.get("authorization"), transport: values.get(CALL_TRANSPORT) };
    let principal: string | undefined;
    try {
      principal = (await deps.check(caller, target)).principal;
      if (!deps.follows(target)) deps.limit.take(principal);
    } catch (error) {
      const refusal = ConnectError.from(error);
      deps.record(codeToString(refusal.code));
      deps.logger.trace({ principal, queue: target.queue, outcome: codeToString(refusal.code), reason: refusal.rawMessage }, "caller refused");
      throw error;
    }
    deps.record("allowed");
    if (deps.logger.isLevelEnabled("trace")) deps.logger.trace({ principal, queue: target.queue, outcome: "allowed" }, "caller allowed");
  }

  return (next) => async (request) => {
    const rule = accessRuleFor(request.method);
    if (rule?.kind === "anonymous") return next(request);
    if (rule?.kind === "queues-in-handler" && !request.stream) {
      const anonymous = !request.header.get("authorization") && !request.contextValues.get(CALL_TRANSPORT).certificate;
      if (deps.requireCredentials && anonymous) {
        deps.record(codeToString(Code.Unauthenticated));
        throw unauthenticated("this call needs credentials: send an authorization header or a client certificate");
      }
      request.contextValues.set(QUEUE_CHECK, (target) => authorize(target, request.header, request.contextValues));
      return next(request);
    }
    if (!rule || rule.kind === "queues-in-handler" || (request.stream && request.method.methodKind !== "server_streaming")) {
      deps.record("permission_denied");
      throw new ConnectError(`${request.method.parent.typeName}/${request.method.name} has no access rule, so it is refused`, Code.PermissionDenied);
    }
    if (!request.stream) {
      await authorize(rule.target(request.message), request.header, request.contextValues);
      return next(request);
    }
    // A server stream's request is one message, read here before the handler sees it, then handed on unchanged.
    const messages: unknown[] = [];
    for await (const message of request.message) messages.push(message);
    if (messages.length > 0) await authorize(rule.target(messages[0]), request.header, request.contextValues);
    return next({ ...request, message: createAsyncIterable(messages) } as typeof request);
  };
}
