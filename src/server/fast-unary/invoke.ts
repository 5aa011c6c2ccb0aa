import { create } from "@bufbuild/protobuf";
import type { ContextValues, Interceptor, UnaryRequest, UnaryResponse } from "@connectrpc/connect";
import { callRequest, callResponse, implementationContext } from "./call-objects.js";
import type { LazyCall } from "./call-state.js";
import type { Message, Protocol, Route, UnaryFn } from "./types.js";

/**
 * Runs the interceptors and the implementation as connect's
 * invokeUnaryImplementation does — the same request and response objects,
 * the same context for the implementation — except that the costly parts
 * (Headers, the abort signal, the URL) are made only when something reads them,
 * and the request's Headers are only filled when something does more than
 * `get` or `has` (see LazyRequestHeaders).
 */
export async function invoke(
  spec: Route["spec"],
  protocol: Protocol,
  call: LazyCall,
  input: Message,
  values: ContextValues,
  interceptors: readonly Interceptor[],
): Promise<Message> {
  const { method } = spec;
  let own: UnaryResponse | undefined;
  const implementation = async (request: UnaryRequest): Promise<UnaryResponse> => {
    const output = await spec.impl(request.message, implementationContext(protocol, call, request));
    own = callResponse(call, method, create(method.output, output));
    return own;
  };
  const next = applyInterceptors(implementation, interceptors);
  const response = await next(callRequest(call, method, input, values));
  // An interceptor that answered with headers of its own: connect copies them over the call's.
  if (response !== own) {
    copyHeaders(response.header, call.responseHeader);
    copyHeaders(response.trailer, call.responseTrailer);
  }
  return response.message;
}

function applyInterceptors(implementation: UnaryFn, interceptors: readonly Interceptor[]): UnaryFn {
  let next = implementation;
  for (let i = interceptors.length - 1; i >= 0; i--) next = interceptors[i]!(next as Parameters<Interceptor>[0]) as UnaryFn;
  return next;
}

function copyHeaders(from: Headers, to: Headers): void {
  if (from === to) return;
  for (const key of [...to.keys()]) to.delete(key);
  from.forEach((value, key) => to.set(key, value));
}
