import { Code, ConnectError, type Interceptor, type Transport } from "@connectrpc/connect";
import type { ArmadaConnection, ArmadaConnections, StreamSlot } from "./connections.js";

/**
 * connect's gRPC transport over the shared connections: each call takes a
 * slot in the pool's short-call lane (waiting, within its own deadline, when
 * that lane's connection is at its stream limit) and gives it back when the
 * call is over, so short calls never open more streams on a connection than
 * Armada allows.
 */
export function pooledTransport(connections: ArmadaConnections, interceptors: Interceptor[] = []): Transport {
  // One transport per connection and per user of the pool, made on first use.
  const transports = new WeakMap<ArmadaConnection, Transport>();
  const transportOf = (connection: ArmadaConnection): Transport => {
    let transport = transports.get(connection);
    if (!transport) {
      transport = connection.transport(interceptors);
      transports.set(connection, transport);
    }
    return transport;
  };
  const slot = async (signal: AbortSignal | undefined, timeoutMs: number | undefined): Promise<StreamSlot> => {
    const deadline = timeoutMs === undefined || timeoutMs <= 0 ? undefined : AbortSignal.timeout(timeoutMs);
    const bounds = [signal, deadline].filter((s) => s !== undefined);
    try {
      return await connections.acquireShort(bounds.length > 0 ? AbortSignal.any(bounds) : new AbortController().signal);
    } catch (error) {
      if (deadline?.aborted) throw new ConnectError("no free stream to Armada before the call's deadline", Code.DeadlineExceeded);
      if (signal?.aborted) throw ConnectError.from(signal.reason, Code.Canceled);
      throw ConnectError.from(error, Code.Unavailable);
    }
  };

  return {
    async unary(method, signal, timeoutMs, header, input, contextValues) {
      const held = await slot(signal, timeoutMs);
      try {
        return await transportOf(held.connection).unary(method, signal, timeoutMs, header, input, contextValues);
      } finally {
        held.release();
      }
    },
    async stream(method, signal, timeoutMs, header, input, contextValues) {
      const held = await slot(signal, timeoutMs);
      try {
        const response = await transportOf(held.connection).stream(method, signal, timeoutMs, header, input, contextValues);
        // A caller that cancels without reading the messages still gives the slot back.
        signal?.addEventListener("abort", () => held.release(), { once: true });
        return { ...response, message: releasingWhenDone(response.message, held) };
      } catch (error) {
        held.release();
        throw error;
      }
    },
  };
}

/** The response's messages, giving the slot back when they end, fail or the reader stops early. */
async function* releasingWhenDone<T>(messages: AsyncIterable<T>, held: StreamSlot): AsyncGenerator<T> {
  try {
    yield* messages;
  } finally {
    held.release();
  }
}
