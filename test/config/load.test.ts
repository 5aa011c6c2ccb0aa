import { describe, expect, it } from "vitest";
import { ConfigError, loadServeConfig } from "../../src/config/load.js";

function problemsOf(env: Record<string, string>, argv: string[] = []): readonly string[] {
  try {
    loadServeConfig(env, argv);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("serve configuration", () => {
  it("defaults to port 60003 on all interfaces with the embedded memory store", () => {
    expect(loadServeConfig({}, [])).toMatchObject({ host: "127.0.0.1", port: 60003, store: { kind: "memory" }, jobTtlSeconds: 86400, logLevel: "info" });
  });

  it("lets flags win over environment variables", () => {
    expect(loadServeConfig({ JOBSERVICE_PORT: "7000" }, ["--port", "8000"]).port).toBe(8000);
    expect(loadServeConfig({ JOBSERVICE_PORT: "7000" }, []).port).toBe(7000);
  });

  it("chooses the store from its URL scheme", () => {
    expect(loadServeConfig({ JOBSERVICE_STORE: "redis://127.0.0.1:6379/2" }, []).store).toEqual({ kind: "redis", url: "redis://127.0.0.1:6379/2" });
    expect(loadServeConfig({ JOBSERVICE_STORE: "rediss://cache:6380" }, []).store.kind).toBe("redis");
    expect(loadServeConfig({ JOBSERVICE_STORE: "https://eu1.example.io", UPSTASH_REDIS_REST_TOKEN: "t" }, []).store).toEqual({
      kind: "upstash",
      url: "https://eu1.example.io",
      token: "t",
    });
  });

  it("takes a Redis Cluster from a list of nodes, and names the mistake in a bad one without echoing its password", () => {
    const url = "redis-cluster://:pw@10.0.0.1:7000,10.0.0.2:7001";
    expect(loadServeConfig({ JOBSERVICE_STORE: url }, []).store).toEqual({ kind: "redis-cluster", url });
    expect(loadServeConfig({ JOBSERVICE_STORE: "rediss-cluster://cache-a:6380" }, []).store.kind).toBe("redis-cluster");
    const [problem] = problemsOf({ JOBSERVICE_STORE: "redis-cluster://:s3cret@10.0.0.1:7000,10.0.0.2:99999" });
    expect(problem).toBe("JOBSERVICE_STORE (--store): node 2 of the list: expected a port from 1 to 65535");
    expect(problemsOf({ JOBSERVICE_STORE: "redis-cluster://:s3cret@h:1/3" })[0]).toMatch(/database 0 only/);
  });

  it("bounds connections, headers, streams and idle times, with documented defaults", () => {
    expect(loadServeConfig({}, []).limits).toEqual({
      maxConnections: 10_000,
      maxHeaderBytes: 16_384,
      maxConcurrentStreams: 100,
      idleTimeoutMs: 60_000,
      requestTimeoutMs: 30_000,
    });
    const env = { JOBSERVICE_MAX_CONNECTIONS: "50", JOBSERVICE_IDLE_TIMEOUT_SECONDS: "5", JOBSERVICE_REQUEST_TIMEOUT_SECONDS: "2" };
    expect(loadServeConfig(env, ["--max-concurrent-streams", "8", "--max-header-bytes", "4096"]).limits).toEqual({
      maxConnections: 50,
      maxHeaderBytes: 4096,
      maxConcurrentStreams: 8,
      idleTimeoutMs: 5_000,
      requestTimeoutMs: 2_000,
    });
    expect(problemsOf({ JOBSERVICE_MAX_HEADER_BYTES: "100", JOBSERVICE_MAX_CONNECTIONS: "0" })).toEqual([
      'JOBSERVICE_MAX_CONNECTIONS (--max-connections): expected a whole number from 1 to 1000000, got "0"',
      'JOBSERVICE_MAX_HEADER_BYTES (--max-header-bytes): expected a whole number from 1024 to 1048576, got "100"',
    ]);
  });

  it("uses Upstash's own variables when JOBSERVICE_STORE is unset", () => {
    expect(loadServeConfig({ UPSTASH_REDIS_REST_URL: "https://u.example.io", UPSTASH_REDIS_REST_TOKEN: "t" }, []).store.kind).toBe("upstash");
    expect(loadServeConfig({ JOBSERVICE_STORE: "memory", UPSTASH_REDIS_REST_URL: "https://u.example.io" }, []).store.kind).toBe("memory");
  });

  it("reports every problem at once, naming the setting and what was expected", () => {
    const problems = problemsOf({ JOBSERVICE_PORT: "http", JOBSERVICE_STORE: "postgres://db", JOBSERVICE_LOG_LEVEL: "loud" });
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^JOBSERVICE_PORT \(--port\): expected a whole number from 0 to 65535, got "http"$/);
    expect(problems[1]).toMatch(
      /^JOBSERVICE_STORE \(--store\): expected "memory" or a URL; expected a URL starting with redis:\/\/ or rediss:\/\/ or redis-cluster:\/\/ or rediss-cluster:\/\/ or https:\/\//,
    );
    expect(problems[2]).toMatch(/^JOBSERVICE_LOG_LEVEL \(--log-level\): expected one of fatal, error, warn/);
  });

  it.each([
    ["ARMADA_URL", "localhost:50051", "did you mean http://localhost:50051 (or https://localhost:50051 for TLS)?"],
    ["ARMADA_URL", "127.0.0.1:50051", "did you mean http://127.0.0.1:50051 (or https://127.0.0.1:50051 for TLS)?"],
    ["JOBSERVICE_STORE", "localhost:6379", "did you mean redis://localhost:6379 (or rediss://localhost:6379 for TLS)?"],
  ])("answers %s=%s, an address as armadactl and redis-cli write it, with the URL it would be", (env, value, hint) => {
    const [problem] = problemsOf({ [env]: value });
    expect(problem).toContain("got host:port without a scheme");
    expect(problem).toContain(hint);
  });

  it.each([
    ["redis:/localhost", "did you mean redis://localhost?"],
    ["redis:localhost:6379", "did you mean redis://localhost:6379?"],
  ])("refuses the host-less store URL %s at start-up instead of failing later on a path", (value, hint) => {
    const [problem] = problemsOf({ JOBSERVICE_STORE: value });
    expect(problem).toMatch(/^JOBSERVICE_STORE \(--store\): .*got no host/);
    expect(problem).toContain(hint);
  });

  it("requires the Upstash token with an https store, without echoing secrets", () => {
    expect(problemsOf({ JOBSERVICE_STORE: "https://u.example.io" })).toEqual([
      "UPSTASH_REDIS_REST_TOKEN (--upstash-token): required with an Upstash REST store (JOBSERVICE_STORE (--store) is an https:// URL)",
    ]);
  });

  it("requires both TLS files, and readable ones", () => {
    expect(problemsOf({ JOBSERVICE_TLS_CERT_FILE: "/etc/hostname" })).toEqual([
      "JOBSERVICE_TLS_CERT_FILE (--tls-cert-file) and JOBSERVICE_TLS_KEY_FILE (--tls-key-file): expected both or neither",
    ]);
    expect(problemsOf({ JOBSERVICE_TLS_CERT_FILE: "/no/such.pem", JOBSERVICE_TLS_KEY_FILE: "/etc/hostname" })[0]).toContain(
      'expected a readable file, but "/no/such.pem" cannot be read',
    );
  });

  it("rejects unknown flags", () => {
    expect(problemsOf({}, ["--prot", "1"])[0]).toContain("--prot");
  });
});

describe("Armada connection settings", () => {
  it("defaults to cleartext HTTP/2 on localhost:50051 without credentials", () => {
    expect(loadServeConfig({}, []).subscriber).toMatchObject({
      armadaUrl: "http://localhost:50051",
      credentials: { kind: "none" },
      subscriptionExpirySeconds: 300,
    });
  });

  it("sizes the connection pool to hold every allowed subscription", () => {
    const { subscriber } = loadServeConfig({ JOBSERVICE_MAX_SUBSCRIPTIONS: "10000", JOBSERVICE_ARMADA_CONNECTIONS: "4" }, []);
    expect(subscriber.maxConnections * subscriber.maxStreamsPerConnection).toBeGreaterThanOrEqual(10000);
  });

  it("accepts only http and https Armada URLs", () => {
    expect(problemsOf({ ARMADA_URL: "grpc://armada:50051" })[0]).toMatch(/^ARMADA_URL \(--armada-url\): expected a URL starting with http:\/\/ or https:\/\//);
  });

  it("reads each credential method", () => {
    expect(loadServeConfig({ ARMADA_USERNAME: "u", ARMADA_PASSWORD: "p" }, []).subscriber.credentials).toEqual({ kind: "basic", username: "u", password: "p" });
    expect(loadServeConfig({ ARMADA_TOKEN: "t" }, []).subscriber.credentials).toEqual({ kind: "bearer", token: "t" });
    expect(loadServeConfig({ ARMADA_TOKEN_FILE: "/etc/hostname" }, []).subscriber.credentials).toEqual({ kind: "token-file", path: "/etc/hostname" });
    expect(
      loadServeConfig(
        { ARMADA_OIDC_TOKEN_URL: "https://idp.example/token", ARMADA_OIDC_CLIENT_ID: "c", ARMADA_OIDC_CLIENT_SECRET: "s", ARMADA_OIDC_SCOPES: "armada, read" },
        [],
      ).subscriber.credentials,
    ).toEqual({ kind: "oidc", tokenUrl: "https://idp.example/token", clientId: "c", clientSecret: "s", scopes: ["armada", "read"] });
  });

  it("refuses half a credential or two methods at once, without echoing secrets", () => {
    expect(problemsOf({ ARMADA_USERNAME: "u" })).toEqual(["ARMADA_PASSWORD (--armada-password): required with ARMADA_USERNAME (--armada-username)"]);
    const two = problemsOf({ ARMADA_TOKEN: "secret-token", ARMADA_USERNAME: "u", ARMADA_PASSWORD: "secret-pw" });
    expect(two).toHaveLength(1);
    expect(two[0]).toContain("expected one method");
    expect(two[0]).not.toMatch(/secret-/);
    expect(problemsOf({ ARMADA_OIDC_TOKEN_URL: "https://idp.example/token" })).toEqual([
      "ARMADA_OIDC_CLIENT_ID (--armada-oidc-client-id): required with ARMADA_OIDC_TOKEN_URL (--armada-oidc-token-url)",
      "ARMADA_OIDC_CLIENT_SECRET (--armada-oidc-client-secret): required with ARMADA_OIDC_TOKEN_URL (--armada-oidc-token-url) (or ARMADA_OIDC_USERNAME (--armada-oidc-username) and ARMADA_OIDC_PASSWORD (--armada-oidc-password) for the password grant)",
    ]);
  });

  it("reads the OIDC password grant, with the token endpoint given or found from the issuer", () => {
    const oidc = { ARMADA_OIDC_CLIENT_ID: "armadactl", ARMADA_OIDC_USERNAME: "airflow", ARMADA_OIDC_PASSWORD: "pw", ARMADA_OIDC_SCOPES: "openid armada" };
    expect(loadServeConfig({ ...oidc, ARMADA_OIDC_PROVIDER_URL: "https://idp.example/realms/armada" }, []).subscriber.credentials).toEqual({
      kind: "oidc-password",
      providerUrl: "https://idp.example/realms/armada",
      clientId: "armadactl",
      username: "airflow",
      password: "pw",
      scopes: ["openid", "armada"],
    });
    expect(
      loadServeConfig({ ...oidc, ARMADA_OIDC_TOKEN_URL: "https://idp.example/token", ARMADA_OIDC_CLIENT_SECRET: "s" }, []).subscriber.credentials,
    ).toMatchObject({
      kind: "oidc-password",
      tokenUrl: "https://idp.example/token",
      clientSecret: "s",
    });
    expect(
      problemsOf({
        ARMADA_OIDC_PROVIDER_URL: "https://idp.example",
        ARMADA_OIDC_TOKEN_URL: "https://idp.example/token",
        ARMADA_OIDC_CLIENT_ID: "c",
        ARMADA_OIDC_USERNAME: "u",
        ARMADA_OIDC_PASSWORD: "secret-pw",
      }),
    ).toEqual(["ARMADA_OIDC_TOKEN_URL (--armada-oidc-token-url) and ARMADA_OIDC_PROVIDER_URL (--armada-oidc-provider-url): expected one of them, not both"]);
    expect(problemsOf({ ARMADA_OIDC_PASSWORD: "secret-pw" })).toEqual([
      "ARMADA_OIDC_TOKEN_URL (--armada-oidc-token-url) or ARMADA_OIDC_PROVIDER_URL (--armada-oidc-provider-url): one is required with ARMADA_OIDC_PASSWORD (--armada-oidc-password)",
      "ARMADA_OIDC_CLIENT_ID (--armada-oidc-client-id): required with ARMADA_OIDC_PASSWORD (--armada-oidc-password)",
      "ARMADA_OIDC_USERNAME (--armada-oidc-username): required with ARMADA_OIDC_PASSWORD (--armada-oidc-password)",
    ]);
  });

  it("reads armadactl's kubernetes grant: the service-account token file as client assertion, with no secret", () => {
    expect(
      loadServeConfig(
        { ARMADA_OIDC_TOKEN_URL: "https://idp.example/connect/token", ARMADA_OIDC_CLIENT_ID: "armada", ARMADA_OIDC_ASSERTION_FILE: "/etc/hostname" },
        [],
      ).subscriber.credentials,
    ).toEqual({
      kind: "oidc-kubernetes",
      tokenUrl: "https://idp.example/connect/token",
      clientId: "armada",
      assertionFile: "/etc/hostname",
      scopes: [],
    });
    expect(
      problemsOf({
        ARMADA_OIDC_TOKEN_URL: "https://idp.example/t",
        ARMADA_OIDC_CLIENT_ID: "armada",
        ARMADA_OIDC_ASSERTION_FILE: "/no/token",
        ARMADA_OIDC_CLIENT_SECRET: "secret-s",
      }),
    ).toEqual([
      "ARMADA_OIDC_CLIENT_SECRET (--armada-oidc-client-secret): not used with ARMADA_OIDC_ASSERTION_FILE (--armada-oidc-assertion-file) (the kubernetes grant sends the service-account token instead)",
      'ARMADA_OIDC_ASSERTION_FILE (--armada-oidc-assertion-file): expected a readable file, but "/no/token" cannot be read',
    ]);
  });

  it("reads an exec command with JSON arguments and environment, never quoting the environment's values", () => {
    expect(
      loadServeConfig(
        { ARMADA_EXEC_COMMAND: "/usr/bin/armada-token", ARMADA_EXEC_ARGS: '["get", "--audience", "armada"]', ARMADA_EXEC_ENV: '{"PROFILE":"prod"}' },
        [],
      ).subscriber.credentials,
    ).toEqual({
      kind: "exec",
      command: "/usr/bin/armada-token",
      args: ["get", "--audience", "armada"],
      env: { PROFILE: "prod" },
      timeoutMs: 10_000,
      cacheSeconds: 60,
    });
    expect(
      loadServeConfig({ ARMADA_EXEC_COMMAND: "t", ARMADA_EXEC_TIMEOUT_MS: "500", ARMADA_EXEC_CACHE_SECONDS: "0" }, []).subscriber.credentials,
    ).toMatchObject({
      args: [],
      env: {},
      timeoutMs: 500,
      cacheSeconds: 0,
    });
    const problems = problemsOf({ ARMADA_EXEC_COMMAND: "t", ARMADA_EXEC_ARGS: "get --audience", ARMADA_EXEC_ENV: '{"KEY":{"nested":"secret-value"}}' });
    expect(problems).toEqual([
      'ARMADA_EXEC_ARGS (--armada-exec-args): expected a JSON array of strings, e.g. ["token","--audience","armada"], got something that is not JSON',
      'ARMADA_EXEC_ENV (--armada-exec-env): expected a JSON object of strings; the value of "KEY" is not a string',
    ]);
    expect(problemsOf({ ARMADA_EXEC_ARGS: "[]" })).toEqual([
      "ARMADA_EXEC_COMMAND (--armada-exec-command): required with ARMADA_EXEC_ARGS (--armada-exec-args)",
    ]);
  });

  it("reads Kubernetes native auth, with the pod's files by default and checked at start-up", () => {
    expect(
      loadServeConfig({ ARMADA_KUBERNETES_AUTH: "true", ARMADA_KUBERNETES_TOKEN_FILE: "/etc/hostname", ARMADA_KUBERNETES_CA_FILE: "/etc/hosts" }, []).subscriber
        .credentials,
    ).toEqual({
      kind: "kubernetes",
      tokenFile: "/etc/hostname",
      caFile: "/etc/hosts",
    });
    // This machine is no pod: the default paths do not exist.
    expect(problemsOf({ ARMADA_KUBERNETES_AUTH: "true" })).toEqual([
      'ARMADA_KUBERNETES_TOKEN_FILE (--armada-kubernetes-token-file): expected a readable file, but "/var/run/secrets/kubernetes.io/serviceaccount/token" cannot be read',
      'ARMADA_KUBERNETES_CA_FILE (--armada-kubernetes-ca-file): expected a readable file, but "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt" cannot be read',
    ]);
    expect(problemsOf({ ARMADA_KUBERNETES_TOKEN_FILE: "/etc/hostname" })).toEqual([
      "ARMADA_KUBERNETES_TOKEN_FILE (--armada-kubernetes-token-file): only used with ARMADA_KUBERNETES_AUTH (--armada-kubernetes-auth) set to true",
    ]);
    expect(problemsOf({ ARMADA_KUBERNETES_AUTH: "yes" })[0]).toBe('ARMADA_KUBERNETES_AUTH (--armada-kubernetes-auth): expected one of true, false, got "yes"');
    expect(loadServeConfig({ ARMADA_KUBERNETES_AUTH: "false" }, []).subscriber.credentials).toEqual({ kind: "none" });
  });

  it("names both settings when two new methods are given at once", () => {
    expect(problemsOf({ ARMADA_EXEC_COMMAND: "t", ARMADA_KUBERNETES_AUTH: "true", ARMADA_OIDC_PASSWORD: "secret-pw" })).toEqual([
      "Armada credentials: expected one method, got ARMADA_OIDC_PASSWORD (--armada-oidc-password) and ARMADA_EXEC_COMMAND (--armada-exec-command) and ARMADA_KUBERNETES_AUTH (--armada-kubernetes-auth)",
    ]);
  });
});
