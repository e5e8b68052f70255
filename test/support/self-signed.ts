/**
 * A throwaway self-signed certificate for 127.0.0.1 and localhost, made with the system's openssl,
 * for tests that serve TLS.
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

/** The PEM files written, and the certificate's bytes. */
export interface SelfSignedCertificate {
  certPath: string;
  keyPath: string;
  cert: Buffer;
}

/** Writes cert.pem and key.pem (EC P-256, valid one day) into `dir`. */
export async function selfSignedCertificate(dir: string): Promise<SelfSignedCertificate> {
  const certPath = path.join(dir, "cert.pem");
  const keyPath = path.join(dir, "key.pem");
  await promisify(execFile)("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-days", "1",
    "-keyout", keyPath, "-out", certPath,
  ]); // prettier-ignore
  return { certPath, keyPath, cert: await readFile(certPath) };
}
