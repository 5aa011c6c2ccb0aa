import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { JobService, JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import type { JobKey } from "../../src/store/store.js";
import { pythonEnv } from "../support/python-env.js";

const run = promisify(execFile);

/** What a caller presents: basic credentials, a raw authorization value, or nothing. */
export type Presented = { readonly basic: readonly [string, string] } | { readonly header: string } | null;

/** A state name for an answer, or the upper-case gRPC code name of a refusal; `http` for protocols that have a status. */
export interface Outcome {
  readonly result: string;
  readonly message: string;
  readonly http?: number;
}

export type Ask = (baseUrl: string, key: JobKey, presented: Presented) => Promise<Outcome>;

export function authorizationOf(presented: Presented): string | undefined {
  if (presented === null) return undefined;
  if ("header" in presented) return presented.header;
  return `basic ${Buffer.from(`${presented.basic[0]}:${presented.basic[1]}`).toString("base64")}`;
}

function connectAsk(transport: (baseUrl: string, interceptors: Interceptor[]) => Transport): Ask {
  return async (baseUrl, key, presented) => {
    const value = authorizationOf(presented);
    const withAuth: Interceptor = (next) => (request) => {
      if (value !== undefined) request.header.set("authorization", value);
      return next(request);
    };
    try {
      const answer = await createClient(JobService, transport(baseUrl, [withAuth])).getJobStatus(key, { timeoutMs: 10_000 });
      return { result: State[answer.state], message: answer.error };
    } catch (error) {
      const e = ConnectError.from(error);
      return { result: codeToString(e.code).toUpperCase(), message: e.rawMessage };
    }
  };
}

/** grpcio from the locked "client" environment, through the docs' example client. */
export function pythonAsk(descriptorSet: string): Ask {
  return async (baseUrl, key, presented) => {
    const target = new URL(baseUrl).host;
    const flags = presented === null ? [] : "basic" in presented ? ["--basic", presented.basic.join(":")] : ["--authorization", presented.header];
    const { python } = await pythonEnv("client");
    // A refused call exits 1 with the same tab-separated line on stdout.
    const { stdout } = await run(python, ["examples/python/grpcio_client.py", descriptorSet, target, key.queue, key.jobSetId, key.jobId, ...flags]).catch(
      (error: { stdout?: string; code?: unknown }) => {
        if (error.code !== 1) throw error;
        return { stdout: error.stdout ?? "" };
      },
    );
    const [result = "", message = ""] = stdout.replace(/\n$/, "").split("\t");
    return { result, message };
  };
}

/** curl posting Connect JSON, with `-u` for basic credentials and `-H authorization:` otherwise. */
export const curlAsk: Ask = async (baseUrl, key, presented) => {
  const auth = presented === null ? [] : "basic" in presented ? ["-u", presented.basic.join(":")] : ["-H", `authorization: ${presented.header}`];
  const { stdout } = await run("curl", [
    "-s",
    "-w",
    "\n%{http_code}",
    "-H",
    "content-type: application/json",
    ...auth,
    "-d",
    JSON.stringify({ queue: key.queue, jobSetId: key.jobSetId, jobId: key.jobId }),
    `${baseUrl}/jobservice.JobService/GetJobStatus`,
  ]);
  const newline = stdout.lastIndexOf("\n");
  const http = Number(stdout.slice(newline + 1));
  const body = JSON.parse(stdout.slice(0, newline)) as { state?: string; error?: string; code?: string; message?: string };
  if (http === 200) return { result: body.state ?? "SUBMITTED", message: body.error ?? "", http };
  return { result: (body.code ?? "").toUpperCase(), message: body.message ?? "", http };
};

/** The protocol whose client needs a descriptor set (built by test/auth/armada.test.ts); others skip it. */
export const GRPCIO = "gRPC (grpcio)";

export const PROTOCOLS: Readonly<Record<string, (descriptorSet: string) => Ask>> = {
  [GRPCIO]: pythonAsk,
  "Connect JSON (curl)": () => curlAsk,
  "gRPC-Web (connect-node)": () => connectAsk((baseUrl, interceptors) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors })),
  "Connect binary (connect-node)": () =>
    connectAsk((baseUrl, interceptors) => createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true, interceptors })),
  "gRPC (connect-node)": () => connectAsk((baseUrl, interceptors) => createGrpcTransport({ baseUrl, interceptors })),
};

export const HTTP_STATUS: Readonly<Record<string, number>> = { UNAUTHENTICATED: 401, PERMISSION_DENIED: 403 };
