import { generateKeyPair, SignJWT } from "jose";

/**
 * A Kubernetes projected service-account token as the kubelet writes it: an
 * RS256 JWT with a `kid`, the service account as `sub`, and an expiry.
 */
export async function serviceAccountToken(options: { readonly sub: string; readonly expiresInSeconds: number }): Promise<string> {
  const { privateKey } = await generateKeyPair("RS256");
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ "kubernetes.io": { namespace: "armada", serviceaccount: { name: options.sub.split(":").at(-1) } } })
    .setProtectedHeader({ alg: "RS256", kid: "cluster-key-1" })
    .setIssuer("https://kubernetes.default.svc.cluster.local")
    .setAudience("https://kubernetes.default.svc.cluster.local")
    .setSubject(options.sub)
    .setIssuedAt(now)
    .setExpirationTime(now + options.expiresInSeconds)
    .sign(privateKey);
}

/** The header exactly as Armada's own Go test builds it (internal/common/auth/kubernetes_test.go), independently of the service's code. */
export function armadaStyleKubernetesAuth(token: string, ca: string): string {
  const body = `{"token":"${token}", "ca":"${Buffer.from(ca).toString("base64url")}"}`;
  return `KubernetesAuth ${Buffer.from(body).toString("base64url")}`;
}

export const TEST_CLUSTER_CA = "-----BEGIN CERTIFICATE-----\nMIIBdzCCAR2gAwIBAgIBADAKBggqhkjOPQQDAjAjMSEwHwYDVQQDDBhrM3Mtc2Vy\n-----END CERTIFICATE-----\n";
