import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import bcrypt from "bcryptjs";
import { ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUTH_DEFAULTS } from "../../src/auth/index.js";
import { JobService } from "../../src/gen/jobservice/jobservice_pb.js";
import { jobRecord, seedJobs, State } from "../support/jobs.js";
import { startTestService, type TestService } from "../support/service.js";
import { certificateAuthority, selfSignedCertificate } from "../support/tls.js";

const server = selfSignedCertificate();
const authority = certificateAuthority();
const stranger = certificateAuthority();
const dir = mkdtempSync(join(tmpdir(), "jobservice-mtls-"));
const airflow = authority.issue("/O=data-eng/CN=airflow");
let service: TestService;

beforeAll(async () => {
  writeFileSync(join(dir, "users"), `alice:${bcrypt.hashSync("alice-pw", 4)}\n`);
  writeFileSync(join(dir, "permissions.yaml"), 'users:\n  "O=data-eng,CN=airflow": [etl]\n  alice: [team-a]\n');
  service = await startTestService({
    tls: server,
    auth: { ...AUTH_DEFAULTS, mode: "basic", usersFile: join(dir, "users"), permissionsFile: join(dir, "permissions.yaml"), clientCaFile: authority.caFile },
  });
  for (const queue of ["etl", "team-a"]) await seedJobs(service.store, { queue, jobSetId: "s" }, { j: jobRecord(State.SUCCEEDED) });
});
afterAll(() => service?.stop());

async function ask(transport: Transport, queue: string, authorization?: string): Promise<string> {
  try {
    const answer = await createClient(JobService, transport).getJobStatus(
      { queue, jobSetId: "s", jobId: "j" },
      { headers: authorization ? { authorization } : {} },
    );
    return State[answer.state];
  } catch (error) {
    const e = ConnectError.from(error);
    return `${codeToString(e.code)}: ${e.rawMessage}`;
  }
}

const transports = {
  "gRPC over h2": (nodeOptions: object) => createGrpcTransport({ baseUrl: service.url, nodeOptions: { ca: server.cert, ...nodeOptions } }),
  "Connect JSON over HTTPS/1.1": (nodeOptions: object) =>
    createConnectTransport({ baseUrl: service.url, httpVersion: "1.1", nodeOptions: { ca: server.cert, ...nodeOptions } }),
};

describe.each(Object.entries(transports))("client certificates over %s", (_name, transport) => {
  it("a certificate from the client CA names the caller by its subject; the permissions file decides", async () => {
    const withCert = transport({ cert: airflow.cert, key: airflow.key });
    expect(await ask(withCert, "etl")).toBe("SUCCEEDED");
    expect(await ask(withCert, "team-a")).toBe('permission_denied: "O=data-eng,CN=airflow" may not watch queue "team-a"');
  });

  it("a certificate from another CA is refused with UNAUTHENTICATED", async () => {
    const other = stranger.issue("/O=data-eng/CN=airflow");
    expect(await ask(transport({ cert: other.cert, key: other.key }), "etl")).toMatch(/^unauthenticated: the client certificate is not trusted/);
  });

  it("without a certificate, the mode's own credentials apply", async () => {
    const plain = transport({});
    expect(await ask(plain, "team-a", `basic ${Buffer.from("alice:alice-pw").toString("base64")}`)).toBe("SUCCEEDED");
    expect(await ask(plain, "etl")).toMatch(/^unauthenticated: authorization required/);
  });
});
