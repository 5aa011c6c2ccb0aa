import { describe, expect, it } from "vitest";
import { createDigest } from "../../src/auth/node-digest.js";

describe("the service's credential digest", () => {
  it("is the same for the same credential within a process, and differs between credentials", async () => {
    const digest = createDigest();
    expect(await digest("basic YWxpY2U6cHc=")).toBe(await digest("basic YWxpY2U6cHc="));
    expect(await digest("basic YWxpY2U6cHc=")).not.toBe(await digest("basic YWxpY2U6cHg="));
  });

  it("depends on the process's secret, so a digest cannot be recomputed from a guessed credential alone", async () => {
    expect(await createDigest("one secret")("Bearer token")).not.toBe(await createDigest("another secret")("Bearer token"));
    expect(await createDigest()("Bearer token")).not.toBe(await createDigest()("Bearer token"));
  });

  it("never contains the credential", async () => {
    const credential = "basic YWlyZmxvdzpiZW5jaC1wYXNzd29yZA==";
    const digest = await createDigest()(credential);
    expect(digest).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(digest).not.toContain("YWlyZmxvdz");
  });
});
