import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A throw-away self-signed certificate for 127.0.0.1 and localhost, made with Debian's openssl. */
export function selfSignedCertificate(): { certFile: string; keyFile: string; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), "jobservice-tls-"));
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ],
    { stdio: "ignore" },
  );
  return { certFile, keyFile, cert: readFileSync(certFile) };
}

/** A throw-away CA made with openssl, and client certificates it signs. */
export function certificateAuthority(): { caFile: string; ca: Buffer; issue(subject: string): { cert: Buffer; key: Buffer } } {
  const dir = mkdtempSync(join(tmpdir(), "jobservice-ca-"));
  const caFile = join(dir, "ca.pem");
  const caKey = join(dir, "ca-key.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", caKey, "-out", caFile, "-days", "1", "-subj", "/CN=test client CA"], {
    stdio: "ignore",
  });
  let serial = 0;
  return {
    caFile,
    ca: readFileSync(caFile),
    issue(subject) {
      const name = join(dir, `client-${++serial}`);
      execFileSync("openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}-key.pem`, "-out", `${name}.csr`, "-subj", subject], {
        stdio: "ignore",
      });
      execFileSync(
        "openssl",
        ["x509", "-req", "-in", `${name}.csr`, "-CA", caFile, "-CAkey", caKey, "-set_serial", String(serial), "-days", "1", "-out", `${name}.pem`],
        { stdio: "ignore" },
      );
      return { cert: readFileSync(`${name}.pem`), key: readFileSync(`${name}-key.pem`) };
    },
  };
}
