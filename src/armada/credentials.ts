import { stat, readFile } from "node:fs/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import { execAuthorization } from "./exec-credentials.js";
import { kubernetesAuthorization } from "./kubernetes-credentials.js";
import { clientCredentialsAuthorization, kubernetesGrantAuthorization, passwordAuthorization } from "./oidc-credentials.js";
import type { ArmadaCredentials, Authorization, AuthorizationDeps } from "./authorization.js";

export function createAuthorization(credentials: ArmadaCredentials, deps: AuthorizationDeps): Authorization {
  switch (credentials.kind) {
    case "none":
      return () => Promise.resolve(undefined);
    case "basic": {
      const value = `basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`;
      return () => Promise.resolve(value);
    }
    case "bearer": {
      const value = `Bearer ${credentials.token}`;
      return () => Promise.resolve(value);
    }
    case "token-file":
      return tokenFileAuthorization(credentials.path);
    case "oidc":
      return clientCredentialsAuthorization(credentials, deps);
    case "oidc-password":
      return passwordAuthorization(credentials, deps);
    case "oidc-kubernetes":
      return kubernetesGrantAuthorization(credentials, deps);
    case "exec":
      return execAuthorization(credentials, deps);
    case "kubernetes":
      return kubernetesAuthorization(credentials);
  }
}

/** Re-reads the file only when it changed: Kubernetes swaps projected tokens in place. */
function tokenFileAuthorization(path: string): Authorization {
  let cached: { version: string; value: string } | undefined;
  return async () => {
    try {
      const info = await stat(path);
      const version = `${info.ino}:${info.size}:${info.mtimeMs}`;
      if (cached?.version !== version) {
        const token = (await readFile(path, "utf8")).trim();
        if (token === "") throw new ConnectError(`Armada token file ${path} is empty`, Code.Unauthenticated);
        cached = { version, value: `Bearer ${token}` };
      }
      return cached.value;
    } catch (err) {
      if (err instanceof ConnectError) throw err;
      const code = (err as NodeJS.ErrnoException).code ?? "unreadable";
      throw new ConnectError(`cannot read Armada token file ${path} (${code})`, Code.Unauthenticated);
    }
  };
}
