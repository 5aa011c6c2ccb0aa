import type { DescMessage, DescMethodUnary, MessageShape } from "@bufbuild/protobuf";
import type { ContextValues, Interceptor, MethodImplSpec, UnaryRequest, UnaryResponse } from "@connectrpc/connect";
import type { Compression, createMethodSerializationLookup } from "@connectrpc/connect/protocol";
import type { NodeRequest, NodeResponse } from "../request-handler.js";

export type Request = NodeRequest;
export type Response = NodeResponse;

export interface FastUnaryOptions {
  /** The unary methods to serve, with the same implementations the connect router has. */
  readonly specs: readonly MethodImplSpec[];
  /** The connect router's interceptors, run the same way around each call. */
  readonly interceptors: readonly Interceptor[];
  /** The connect adapter's per-request context values (the caller check's transport facts). */
  readonly contextValues?: (req: Request) => ContextValues;
  readonly readMaxBytes: number;
  readonly acceptCompression: readonly Compression[];
  /** Told of each call the fast path answers (a metric: how much traffic skips connect). */
  readonly onServed?: (method: string) => void;
}

/** What the fast path needs of its options, with connect's own defaults filled in. */
export interface Settings extends FastUnaryOptions {
  /** acceptCompression as connect's negotiation takes it, copied once. */
  readonly negotiable: Compression[];
  readonly writeMaxBytes: number;
  readonly compressMinBytes: number;
}

/**
 * Takes a request when it returns true; otherwise the request is untouched, or
 * its body was read and is replayed, so connect can serve it.
 */
export type FastUnary = (req: Request, res: Response, fallback: (req: Request, res: Response) => void) => boolean;

export type Protocol = "grpc" | "connect";
export type Message = MessageShape<DescMessage>;
export type UnaryFn = (request: UnaryRequest) => Promise<UnaryResponse>;

export interface Route {
  readonly spec: MethodImplSpec & { readonly kind: "unary"; readonly method: DescMethodUnary };
  readonly serialization: ReturnType<typeof createMethodSerializationLookup>;
}

/** One call the fast path took: its method, protocol, request message and context values. */
export interface Call {
  readonly route: Route;
  readonly protocol: Protocol;
  readonly bytes: Uint8Array;
  readonly values: ContextValues;
}

/** Headers as Node's writeHead and addTrailers take them. */
export type NodeHeaders = Record<string, string>;
