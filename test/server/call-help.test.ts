/**
 * A request to an RPC path that is not an RPC call (no content type, a
 * browser's GET) is refused with the status codes Connect uses, and a body
 * saying how to call it. Calls themselves are untouched.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { http1Request, http2Request } from "../support/http.js";
import { startTestService, type TestService } from "../support/service.js";

const services: Record<string, TestService> = {};
const PATH = "/jobservice.JobService/GetJobStatus";

beforeAll(async () => {
  services.fast = await startTestService();
  services.connect = await startTestService({ fastPath: false });
});
afterAll(async () => {
  for (const service of Object.values(services)) await service.stop();
});

describe.each(["fast", "connect"])("an RPC path (fast path %s)", (which) => {
  const url = (path: string): string => `${services[which]?.url ?? ""}${path}`;

  it("answers a POST without content-type with 415 and the accepted content types", async () => {
    const response = await http1Request(url(PATH), { method: "POST", body: '{"queue":"q","jobSetId":"s","jobId":"j"}' });
    expect(response.status).toBe(415);
    expect(response.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(response.body).toContain("none was sent");
    for (const type of ["application/json", "application/proto", "application/grpc", "application/grpc-web", "application/connect+json"])
      expect(response.body).toContain(type);
    expect(response.body).toContain(`curl -H 'content-type: application/json' -d '{"queue":"q","jobSetId":"s","jobId":"j"}'`);
  });

  it("names a content type it does not accept (curl -d without -H)", async () => {
    const response = await http1Request(url(PATH), { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "{}" });
    expect(response.status).toBe(415);
    expect(response.body).toContain(`content-type ("application/x-www-form-urlencoded") is not one it accepts`);
  });

  it("answers a browser's GET with 405, the methods allowed and how to call it, Connect GET included", async () => {
    const response = await http1Request(url(PATH), { headers: { accept: "text/html" } });
    expect(response.status).toBe(405);
    expect(response.headers.allow).toBe("POST, GET");
    expect(response.body).toContain("is an RPC, called with POST (or a Connect GET), not GET");
    expect(response.body).toContain(`${PATH}?connect=v1&encoding=json&message=`);
  });

  it("allows only POST for a streaming RPC", async () => {
    const response = await http1Request(url("/jobservice.JobService/WatchJobSet"));
    expect(response.status).toBe(405);
    expect(response.headers.allow).toBe("POST");
    expect(response.body).not.toContain("Connect GET");
  });

  it("over HTTP/2 too", async () => {
    const response = await http2Request(services[which]?.url ?? "", { ":method": "POST", ":path": PATH }, "{}");
    expect(response.status).toBe(415);
    expect(response.body).toContain("Accepted content types:");
  });

  it("still serves a Connect GET and a Connect JSON POST", async () => {
    const message = encodeURIComponent('{"queue":"q","jobSetId":"s","jobId":"j"}');
    const get = await http1Request(url(`${PATH}?connect=v1&encoding=json&message=${message}`));
    expect(get.status).toBe(200);
    expect(JSON.parse(get.body)).toHaveProperty("state");
    const post = await http1Request(url(PATH), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"queue":"q","jobSetId":"s","jobId":"j"}',
    });
    expect(post.status).toBe(200);
  });

  it("leaves paths that are not RPCs to the HTTP routes", async () => {
    expect((await http1Request(url("/healthz"))).status).toBe(200);
  });
});
