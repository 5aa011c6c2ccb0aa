import { readFile, stat } from "node:fs/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ArmadaCredentials, Authorization } from "./authorization.js";

type KubernetesCredentials = Extract<ArmadaCredentials, { kind: "kubernetes" }>;

/**
 * Armada's Kubernetes native auth: `KubernetesAuth <payload>`, where the
 * payload is base64url (no padding) of `{"token":"<service-account JWT>",
 * "ca":"<base64url of the cluster CA PEM>"}`, byte for byte what armadactl
 * sends; Armada reviews the token with that cluster. Both files are re-read
 * when either changes, as the kubelet rotates projected tokens in place.
 */
export function kubernetesAuthorization(credentials: KubernetesCredentials): Authorization {
  let cached: { version: string; value: string } | undefined;
  return async () => {
    const token = await versioned(credentials.tokenFile, "Kubernetes service-account token file");
    const ca = await versioned(credentials.caFile, "Kubernetes CA file");
    const version = `${token.version}|${ca.version}`;
    if (cached?.version !== version) {
      const jwt = (await read(credentials.tokenFile, "Kubernetes service-account token file")).trim();
      const pem = await read(credentials.caFile, "Kubernetes CA file");
      if (jwt === "") throw new ConnectError(`Kubernetes service-account token file ${credentials.tokenFile} is empty`, Code.Unauthenticated);
      if (pem.trim() === "") throw new ConnectError(`Kubernetes CA file ${credentials.caFile} is empty`, Code.Unauthenticated);
      cached = { version, value: kubernetesAuthHeader(jwt, pem) };
    }
    return cached.value;
  };
}

export function kubernetesAuthHeader(token: string, caPem: string): string {
  const body = `{"token":${JSON.stringify(token)}, "ca":"${Buffer.from(caPem).toString("base64url")}"}`;
  return `KubernetesAuth ${Buffer.from(body).toString("base64url")}`;
}

async function versioned(path: string, what: string): Promise<{ version: string }> {
  try {
    const info = await stat(path);
    return { version: `${info.ino}:${info.size}:${info.mtimeMs}` };
  } catch (err) {
    throw unreadable(path, what, err);
  }
}

async function read(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    throw unreadable(path, what, err);
  }
}

function unreadable(path: string, what: string, err: unknown): ConnectError {
  return new ConnectError(`cannot read ${what} ${path} (${(err as NodeJS.ErrnoException).code ?? "unreadable"})`, Code.Unauthenticated);
}
