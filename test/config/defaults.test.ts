import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadServeConfig, type ServeConfig } from "../../src/config/load.js";
import { defaultNumber, EDGE_SETTINGS, SETTINGS, type SettingFlag } from "../../src/config/settings.js";
import { AUTH_DEFAULTS } from "../../src/auth/options.js";
import { DEFAULT_LIMITS } from "../../src/server/limits.js";
import { SUBSCRIBER_DEFAULTS } from "../../src/subscriber/options.js";

/**
 * Where each setting lands in the loaded configuration, as the table writes
 * its default; or why its default cannot be read back from a configuration.
 */
type Reading = { readonly from: "empty" | "oidc" | "exec"; readonly read: (config: ServeConfig) => unknown } | { readonly unset: string };

const credential = (key: string) => (config: ServeConfig) => (config.subscriber.credentials as unknown as Record<string, unknown>)[key];
const oidc = (key: "algorithms" | "leewaySeconds" | "usernameClaim" | "groupsClaim") => (config: ServeConfig) => {
  const value = config.auth.oidc?.[key];
  return Array.isArray(value) ? value.join(",") : value;
};
const empty = (read: (config: ServeConfig) => unknown): Reading => ({ from: "empty", read });
const none = (read: (config: ServeConfig) => unknown = () => undefined): Reading => ({ from: "empty", read });
const FILE_DEFAULT = "read from the table by load.ts (defaultOf) when Kubernetes auth is on; the default paths only exist in a pod";

const READINGS: Record<SettingFlag, Reading> = {
  host: empty((c) => c.host),
  port: empty((c) => c.port),
  "tls-cert-file": none((c) => c.tls),
  "tls-key-file": none((c) => c.tls),
  store: empty((c) => c.store.kind),
  "upstash-url": none((c) => (c.store.kind === "upstash" ? c.store.url : undefined)),
  "upstash-token": none((c) => (c.store.kind === "upstash" ? c.store.token : undefined)),
  "job-ttl-seconds": empty((c) => c.jobTtlSeconds),
  "max-request-bytes": empty((c) => c.maxRequestBytes),
  "fast-path": empty((c) => c.fastPath),
  "max-connections": empty((c) => c.limits.maxConnections),
  "max-header-bytes": empty((c) => c.limits.maxHeaderBytes),
  "max-concurrent-streams": empty((c) => c.limits.maxConcurrentStreams),
  "idle-timeout-seconds": empty((c) => c.limits.idleTimeoutMs / 1000),
  "request-timeout-seconds": empty((c) => c.limits.requestTimeoutMs / 1000),
  "shutdown-grace-seconds": empty((c) => c.shutdownGraceSeconds),
  "log-level": empty((c) => c.logLevel),
  "log-format": empty((c) => c.logFormat),
  "armada-url": empty((c) => c.subscriber.armadaUrl),
  "armada-ca-file": none((c) => c.subscriber.caFile),
  "armada-username": none(credential("username")),
  "armada-password": none(credential("password")),
  "armada-token": none(credential("token")),
  "armada-token-file": none(credential("path")),
  "armada-oidc-token-url": none(credential("tokenUrl")),
  "armada-oidc-client-id": none(credential("clientId")),
  "armada-oidc-client-secret": none(credential("clientSecret")),
  "armada-oidc-scopes": none(credential("scopes")),
  "armada-oidc-provider-url": none(credential("providerUrl")),
  "armada-oidc-username": none(credential("username")),
  "armada-oidc-password": none(credential("password")),
  "armada-oidc-assertion-file": none(credential("assertionFile")),
  "armada-exec-command": none(credential("command")),
  "armada-exec-args": none(credential("args")),
  "armada-exec-env": none(credential("env")),
  "armada-exec-timeout-ms": { from: "exec", read: credential("timeoutMs") },
  "armada-exec-cache-seconds": { from: "exec", read: credential("cacheSeconds") },
  "armada-kubernetes-auth": empty((c) => c.subscriber.credentials.kind === "kubernetes"),
  "armada-passthrough": empty((c) => c.armadaPassthrough),
  // Off (0) is no replicaAck at all; the timeout is read only with replicas to wait for (test/config/store-wait.test.ts).
  "store-wait-replicas": empty((c) => c.replicaAck?.replicas ?? 0),
  "store-wait-timeout-ms": { unset: "read only when store-wait-replicas is above 0, with a Redis store; test/config/store-wait.test.ts reads it back" },
  "armada-kubernetes-token-file": { unset: FILE_DEFAULT },
  "armada-kubernetes-ca-file": { unset: FILE_DEFAULT },
  "armada-config": none(),
  "armada-context": none(),
  "catch-up-wait-ms": empty((c) => c.subscriber.catchUpWaitMs),
  "subscription-expiry-seconds": empty((c) => c.subscriber.subscriptionExpirySeconds),
  "max-subscriptions": empty((c) => c.subscriber.maxSubscriptions),
  "stream-idle-timeout-ms": empty((c) => c.subscriber.idleTimeoutMs),
  "lease-ttl-ms": empty((c) => c.subscriber.leaseTtlMs),
  "replica-id": { unset: "made up per process (host name, process id, random suffix) when unset" },
  "armada-connections": empty((c) => c.subscriber.maxConnections),
  "batch-max-events": empty((c) => c.subscriber.batchMaxEvents),
  "batch-max-delay-ms": empty((c) => c.subscriber.batchMaxDelayMs),
  "status-page-interval-ms": empty((c) => c.statusPageIntervalMs),
  auth: empty((c) => c.auth.mode),
  "auth-cache-seconds": empty((c) => c.auth.cacheSeconds),
  "oidc-issuer": none((c) => c.auth.oidc),
  "oidc-audience": none((c) => c.auth.oidc),
  "oidc-algorithms": { from: "oidc", read: oidc("algorithms") },
  "oidc-leeway-seconds": { from: "oidc", read: oidc("leewaySeconds") },
  "oidc-username-claim": { from: "oidc", read: oidc("usernameClaim") },
  "oidc-groups-claim": { from: "oidc", read: oidc("groupsClaim") },
  "users-file": none((c) => c.auth.usersFile),
  "permissions-file": none((c) => c.auth.permissionsFile),
  "metrics-token": none((c) => c.auth.metricsToken),
  "max-new-subscriptions-per-minute": empty((c) => c.auth.maxNewSubscriptionsPerMinute),
  "tls-client-ca-file": none((c) => c.auth.clientCaFile),
  "max-batch-ids": empty((c) => c.maxBatchIds),
  "max-watches": empty((c) => c.maxWatches),
  "watch-poll-ms": empty((c) => c.watchPollMs),
};

/** The configurations the defaults are read from: nothing set, and the least that turns on a method whose settings only exist with it. */
function configurations(): Record<"empty" | "oidc" | "exec", ServeConfig> {
  const permissions = join(mkdtempSync(join(tmpdir(), "jobservice-defaults-")), "permissions.yaml");
  writeFileSync(permissions, "users:\n  alice: [q]\n");
  return {
    empty: loadServeConfig({}, []),
    oidc: loadServeConfig(
      {
        JOBSERVICE_AUTH: "oidc",
        JOBSERVICE_OIDC_ISSUER: "https://idp.example.com",
        JOBSERVICE_OIDC_AUDIENCE: "jobservice",
        JOBSERVICE_PERMISSIONS_FILE: permissions,
      },
      [],
    ),
    exec: loadServeConfig({ ARMADA_EXEC_COMMAND: "/bin/true" }, []),
  };
}

/** The table's default as the loaded configuration holds it. */
function expected(text: string, actual: unknown): unknown {
  if (text === "") return undefined;
  if (typeof actual === "number") return Number(text);
  if (typeof actual === "boolean") return text === "true";
  return text;
}

describe("the configuration loaded from an empty environment", () => {
  const loaded = configurations();

  it.each(SETTINGS.map((setting) => [setting.env, setting] as const))("holds the table's default for %s", (_env, setting) => {
    const reading = READINGS[setting.flag];
    if ("unset" in reading) {
      expect(reading.unset).not.toBe("");
      return;
    }
    const actual = reading.read(loaded[reading.from]);
    expect(actual).toEqual(expected(setting.default, actual));
  });

  it("has a reading for every setting of the table, and no other", () => {
    expect(Object.keys(READINGS).sort()).toEqual(SETTINGS.map((s) => s.flag).sort());
  });
});

describe("the programmatic defaults library callers get", () => {
  const empty = loadServeConfig({}, []);

  it("are the loaded configuration's, so both come from the table", () => {
    expect(DEFAULT_LIMITS).toEqual(empty.limits);
    expect(AUTH_DEFAULTS).toEqual({
      mode: empty.auth.mode,
      cacheSeconds: empty.auth.cacheSeconds,
      maxNewSubscriptionsPerMinute: empty.auth.maxNewSubscriptionsPerMinute,
    });
    const { armadaUrl: _url, caFile: _ca, credentials: _credentials, replicaId: _replica, ...subscriber } = empty.subscriber;
    expect(SUBSCRIBER_DEFAULTS).toEqual(subscriber);
  });

  it("include the edge entry's own settings, each a number", () => {
    for (const setting of EDGE_SETTINGS) expect(defaultNumber(setting.flag)).toBe(Number(setting.default));
  });
});
