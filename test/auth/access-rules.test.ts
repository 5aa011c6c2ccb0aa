import { describe, expect, it } from "vitest";
import { accessRuleFor } from "../../src/auth/access-rules.js";
import { parseAuthorization } from "../../src/auth/credential.js";
import { globMatcher } from "../../src/auth/glob.js";
import { Health as GrpcHealth } from "../../src/gen/grpc/health/v1/health_pb.js";
import { JobService } from "../../src/gen/jobservice/jobservice_pb.js";

describe("the access table", () => {
  it("has a rule for every RPC of jobservice.JobService: a new RPC cannot ship unchecked", () => {
    for (const method of JobService.methods) expect(accessRuleFor(method), method.name).toBeDefined();
  });

  it("checks the queue of every JobService RPC whose request carries one, and leaves health anonymous", () => {
    for (const method of JobService.methods) {
      const carriesQueue = method.input.fields.some((f) => f.name === "queue");
      expect(accessRuleFor(method)?.kind, method.name).toBe(carriesQueue ? "watch-queue" : "anonymous");
    }
    for (const method of GrpcHealth.methods) expect(accessRuleFor(method)?.kind).toBe("anonymous");
  });
});

describe("the authorization header, as armadactl sends it", () => {
  it("reads basic with any case of the scheme, and Bearer", () => {
    const value = Buffer.from("alice:pa:ss").toString("base64");
    for (const scheme of ["basic", "Basic", "BASIC"])
      expect(parseAuthorization(`${scheme} ${value}`)).toMatchObject({ kind: "basic", user: "alice", password: "pa:ss" });
    expect(parseAuthorization("Bearer abc.def")).toMatchObject({ kind: "bearer", token: "abc.def" });
  });

  it("tells missing from malformed", () => {
    expect(parseAuthorization(null).kind).toBe("missing");
    expect(parseAuthorization("  ").kind).toBe("missing");
    for (const bad of ["basic", "basic !!!", `basic ${Buffer.from("no-colon").toString("base64")}`, "Negotiate abc", "Bearer a b"]) {
      expect(parseAuthorization(bad).kind, bad).toBe("malformed");
    }
  });
});

describe("queue patterns", () => {
  it("match whole names, with * for any run and ? for one character, and nothing else special", () => {
    expect(globMatcher("team-*")("team-a")).toBe(true);
    expect(globMatcher("team-*")("my-team-a")).toBe(false);
    expect(globMatcher("q?")("q1")).toBe(true);
    expect(globMatcher("q?")("q12")).toBe(false);
    expect(globMatcher("a.b")("axb")).toBe(false);
    expect(globMatcher("a.b*")("a.bc")).toBe(true);
  });
});
