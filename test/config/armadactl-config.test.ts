import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { armadactlUrl } from "../../src/config/armadactl-config.js";
import { ConfigError, loadServeConfig } from "../../src/config/load.js";

const dir = mkdtempSync(join(tmpdir(), "armadactl-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function configFile(text: string): string {
  const path = join(dir, `armadactl-${++files}.yaml`);
  writeFileSync(path, text);
  return path;
}

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadServeConfig(env, []);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

/** Every context armadactl's own example (_local/.armadactl.yaml) shows, in armadactl's spelling. */
const ARMADACTL_YAML = `
currentContext: auth-basic
contexts:
  no-auth:
    armadaUrl: localhost:50051
  auth-basic:
    armadaUrl: armada.example.com:443
    basicAuth:
      username: "admin"
      password: "s3cret-basic"
  auth-password:
    armadaUrl: armada.example.com
    openIdPasswordAuth:
      providerUrl: "http://localhost:8180/realms/armada"
      clientId: "armada-server"
      username: "admin"
      password: "s3cret-oidc"
      scopes: ["openid", "profile", "email"]
  auth-client-creds:
    armadaUrl: armada.internal:50051
    forceNoTls: true
    openIdClientCredentialsAuth:
      providerUrl: "http://localhost:8180/realms/armada"
      clientId: "armada-executor"
      clientSecret: "s3cret-client"
      scopes: ["openid"]
  auth-exec:
    armadaUrl: localhost:50051
    execAuth:
      cmd: "/path/to/token-helper"
      args: ["--get-token"]
      env:
        - name: "TOKEN_ENDPOINT"
          value: "http://localhost:5556/dex/token"
  auth-k8s:
    ArmadaURL: armada:50051
    kubernetesNativeAuth:
      enabled: true
      expiry: 3600
  auth-k8s-oidc:
    armadaUrl: armada:50051
    openIdKubernetesAuth:
      providerUrl: "https://idp.example.com/"
      clientId: "armada"
      scopes: ["armada"]
  auth-oidc:
    armadaUrl: localhost:50051
    openIdAuth:
      providerUrl: "http://localhost:8180/realms/armada"
      clientId: "armada-server"
      localPort: 8085
`;

describe("ARMADA_CONFIG: armadactl's own config file", () => {
  const file = configFile(ARMADACTL_YAML);
  const subscriber = (extra: Record<string, string> = {}) => loadServeConfig({ ARMADA_CONFIG: file, ...extra }, []).subscriber;

  it("uses the currentContext: its armadaUrl (TLS, as armadactl dials it) and its basicAuth", () => {
    expect(subscriber()).toMatchObject({
      armadaUrl: "https://armada.example.com",
      credentials: { kind: "basic", username: "admin", password: "s3cret-basic" },
    });
  });

  it("ARMADA_CONTEXT picks another context, for each non-interactive auth block", () => {
    expect(subscriber({ ARMADA_CONTEXT: "no-auth" })).toMatchObject({ armadaUrl: "http://localhost:50051", credentials: { kind: "none" } });
    expect(subscriber({ ARMADA_CONTEXT: "auth-password" })).toMatchObject({
      armadaUrl: "https://armada.example.com",
      credentials: {
        kind: "oidc-password",
        providerUrl: "http://localhost:8180/realms/armada",
        clientId: "armada-server",
        username: "admin",
        password: "s3cret-oidc",
        scopes: ["openid", "profile", "email"],
      },
    });
    expect(subscriber({ ARMADA_CONTEXT: "auth-client-creds" })).toMatchObject({
      armadaUrl: "http://armada.internal:50051",
      credentials: {
        kind: "oidc",
        providerUrl: "http://localhost:8180/realms/armada",
        clientId: "armada-executor",
        clientSecret: "s3cret-client",
        scopes: ["openid"],
      },
    });
    expect(subscriber({ ARMADA_CONTEXT: "auth-exec" }).credentials).toEqual({
      kind: "exec",
      command: "/path/to/token-helper",
      args: ["--get-token"],
      env: { TOKEN_ENDPOINT: "http://localhost:5556/dex/token" },
      timeoutMs: 10_000,
      cacheSeconds: 60,
    });
  });

  it("reads keys in any case, as armadactl's viper does, and maps kubernetesNativeAuth onto the pod's files", () => {
    const problems = problemsOf({ ARMADA_CONFIG: file, ARMADA_CONTEXT: "auth-k8s" });
    // Not a pod here: the default service-account paths are missing, which proves the block was read.
    expect(problems).toEqual([
      `ARMADA_KUBERNETES_TOKEN_FILE (--armada-kubernetes-token-file): expected a readable file, but "/var/run/secrets/kubernetes.io/serviceaccount/token" cannot be read`,
      `ARMADA_KUBERNETES_CA_FILE (--armada-kubernetes-ca-file): expected a readable file, but "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt" cannot be read`,
    ]);
    expect(subscriber({ ARMADA_CONTEXT: "auth-k8s", ARMADA_KUBERNETES_TOKEN_FILE: "/etc/hostname", ARMADA_KUBERNETES_CA_FILE: "/etc/hosts" })).toMatchObject({
      armadaUrl: "https://armada:50051",
      credentials: { kind: "kubernetes", tokenFile: "/etc/hostname", caFile: "/etc/hosts" },
    });
  });

  it("maps openIdKubernetesAuth onto armadactl's fixed token path and the pod's token", () => {
    expect(problemsOf({ ARMADA_CONFIG: file, ARMADA_CONTEXT: "auth-k8s-oidc" })).toEqual([
      `contexts.auth-k8s-oidc.openIdKubernetesAuth in ARMADA_CONFIG (--armada-config) ${file}: expected a readable file, but "/var/run/secrets/kubernetes.io/serviceaccount/token" cannot be read`,
    ]);
    expect(subscriber({ ARMADA_CONTEXT: "auth-k8s-oidc", ARMADA_OIDC_ASSERTION_FILE: "/etc/hostname" }).credentials).toEqual({
      kind: "oidc-kubernetes",
      tokenUrl: "https://idp.example.com/connect/token",
      clientId: "armada",
      assertionFile: "/etc/hostname",
      scopes: ["armada"],
    });
  });

  it("explicit settings win: ARMADA_URL over armadaUrl, another method over the file's auth block", () => {
    expect(subscriber({ ARMADA_URL: "http://127.0.0.1:9999" }).armadaUrl).toBe("http://127.0.0.1:9999");
    expect(subscriber({ ARMADA_TOKEN: "explicit" }).credentials).toEqual({ kind: "bearer", token: "explicit" });
    // The same method: explicit values win field by field, the file fills in the rest.
    expect(subscriber({ ARMADA_PASSWORD: "from-a-secret" }).credentials).toEqual({ kind: "basic", username: "admin", password: "from-a-secret" });
  });

  it("an unknown ARMADA_CONTEXT stops start-up, naming it and listing the valid contexts", () => {
    expect(problemsOf({ ARMADA_CONFIG: file, ARMADA_CONTEXT: "prod" })).toEqual([
      `ARMADA_CONTEXT (--armada-context): no context "prod" in ${file}; expected one of: no-auth, auth-basic, auth-password, auth-client-creds, auth-exec, auth-k8s, auth-k8s-oidc, auth-oidc`,
    ]);
  });

  it("interactive logins are refused with what to use instead, unless an explicit method replaces them", () => {
    expect(problemsOf({ ARMADA_CONFIG: file, ARMADA_CONTEXT: "auth-oidc" })).toEqual([
      `ARMADA_CONFIG (--armada-config): contexts.auth-oidc.openIdAuth in ${file} is the interactive browser login, which a service cannot do; use openIdPasswordAuth, openIdClientCredentialsAuth or execAuth`,
    ]);
    expect(subscriber({ ARMADA_CONTEXT: "auth-oidc", ARMADA_TOKEN: "explicit" })).toMatchObject({
      armadaUrl: "http://localhost:50051",
      credentials: { kind: "bearer" },
    });
  });

  it("a problem in a value from the file names its place in the file", () => {
    const bad = configFile(
      "currentContext: main\ncontexts:\n  main:\n    armadaUrl: localhost:50051\n    openIdPasswordAuth:\n      providerUrl: not a url\n      username: u\n      password: secret-in-file\n",
    );
    const problems = problemsOf({ ARMADA_CONFIG: bad });
    expect(problems).toEqual([
      `contexts.main.openIdPasswordAuth.providerUrl in ARMADA_CONFIG (--armada-config) ${bad}: expected a URL (http://…, https://…), got something that is not a URL`,
      `ARMADA_OIDC_CLIENT_ID (--armada-oidc-client-id): required with contexts.main.openIdPasswordAuth.providerUrl in ARMADA_CONFIG (--armada-config) ${bad}`,
    ]);
    expect(problems.join("\n")).not.toContain("secret-in-file");
  });

  it("reads the legacy flat layout, and refuses contexts without a currentContext", () => {
    const legacy = configFile("armadaUrl: armada.example.com:50051\nbasicAuth:\n  username: u\n  password: p\n");
    expect(loadServeConfig({ ARMADA_CONFIG: legacy }, []).subscriber).toMatchObject({
      armadaUrl: "https://armada.example.com:50051",
      credentials: { kind: "basic", username: "u" },
    });
    const noCurrent = configFile("contexts:\n  a:\n    armadaUrl: x:1\n  b:\n    armadaUrl: y:2\n");
    expect(problemsOf({ ARMADA_CONFIG: noCurrent })).toEqual([
      `ARMADA_CONFIG (--armada-config): ${noCurrent} has contexts but no currentContext; set ARMADA_CONTEXT (--armada-context) to one of: a, b`,
    ]);
  });

  it("invalid YAML is reported by position and error code, never by quoting the file", () => {
    const broken = configFile('currentContext: main\ncontexts:\n  main:\n    basicAuth:\n      password: "secret-unterminated\n');
    const problems = problemsOf({ ARMADA_CONFIG: broken });
    expect(problems).toEqual([`ARMADA_CONFIG (--armada-config): ${broken} is not valid YAML (MISSING_CHAR at line 6, column 1)`]);
    expect(problemsOf({ ARMADA_CONFIG: join(dir, "absent.yaml") })).toEqual([
      `ARMADA_CONFIG (--armada-config): cannot read armadactl config file ${join(dir, "absent.yaml")} (ENOENT)`,
    ]);
    expect(problemsOf({ ARMADA_CONTEXT: "main" })).toEqual(["ARMADA_CONTEXT (--armada-context): only used with ARMADA_CONFIG (--armada-config)"]);
  });
});

describe("armadactl's Armada address", () => {
  it("is TLS unless forceNoTls or localhost, on gRPC's default port 443 when none is given", () => {
    expect(armadactlUrl("armada.example.com", false)).toBe("https://armada.example.com:443");
    expect(armadactlUrl("armada.example.com:50051", true)).toBe("http://armada.example.com:50051");
    expect(armadactlUrl("localhost:50051", false)).toBe("http://localhost:50051");
    expect(armadactlUrl("[::1]:50051", true)).toBe("http://[::1]:50051");
    expect(armadactlUrl("https://armada.example.com", false)).toBe("https://armada.example.com");
  });
});
