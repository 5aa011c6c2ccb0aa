import type { Request } from "./types.js";
import { GRPC_PREFIX_BYTES } from "./wire.js";

/**
 * Reads the request's bytes: all of them (`complete`), or those read when they
 * passed the limit, with the rest left in the paused stream.
 */
export function readBody(req: Request, readMaxBytes: number, done: (chunks: Buffer[], complete: boolean) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  const limit = readMaxBytes + GRPC_PREFIX_BYTES;
  const onData = (chunk: Buffer): void => {
    chunks.push(chunk);
    size += chunk.length;
    if (size > limit) {
      req.pause();
      finish();
      done(chunks, false);
    }
  };
  const onEnd = (): void => {
    finish();
    done(chunks, true);
  };
  const onError = (): void => finish();
  function finish(): void {
    req.off("data", onData);
    req.off("end", onEnd);
    req.off("error", onError);
  }
  req.on("data", onData);
  req.on("end", onEnd);
  req.on("error", onError);
}

/**
 * Lets connect read a body this path already read: connect iterates the
 * request, so the instance's own iterator yields the chunks read, then
 * whatever the stream still holds.
 */
export function replayBody(req: Request, chunks: readonly Buffer[]): void {
  const rest = (Object.getPrototypeOf(req) as { [Symbol.asyncIterator]: (this: Request) => AsyncIterator<Buffer> })[Symbol.asyncIterator];
  Object.defineProperty(req, Symbol.asyncIterator, {
    configurable: true,
    value: async function* replay(this: Request): AsyncGenerator<Buffer> {
      yield* chunks;
      const it = rest.call(this);
      for (let next = await it.next(); next.done !== true; next = await it.next()) yield next.value;
    },
  });
}
