/**
 * Test certificates made with Debian's `openssl` in a temp dir (never committed): two CAs, a server certificate
 * for 127.0.0.1/localhost, and client certificates whose CN is a node id — valid, from the other CA, expired, or
 * for another CN. openssl runs in the directory, so its arguments are plain file names.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** PEM file paths of one certificate and its key. */
export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

/** Everything a TLS test needs. */
export interface TestPki {
  readonly dir: string;
  readonly ca: string;
  readonly otherCa: string;
  readonly server: CertFiles;
  /** a client certificate signed by `ca` (or `otherCa`), CN = `cn` */
  client(cn: string, options?: { readonly otherCa?: boolean; readonly expired?: boolean }): CertFiles;
}

const EC_KEY = '-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes';

/** Makes the CAs and the server certificate; client certificates are made on demand. */
export function makeTestPki(dir: string): TestPki {
  const openssl = (args: string) =>
    execFileSync('openssl', args.split(' '), { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const files = (name: string): CertFiles => ({
    cert: join(dir, `${name}.pem`),
    key: join(dir, `${name}-key.pem`),
  });
  const makeCa = (name: string): string => {
    const caExt = '-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign';
    openssl(
      `req -x509 ${EC_KEY} -keyout ${name}-key.pem -out ${name}.pem -subj /CN=${name} -days 2 ${caExt}`,
    );
    return name;
  };
  // -days -1 makes notAfter one day before notBefore: an expired certificate.
  const issue = (name: string, cn: string, ca: string, days: number, server = false): CertFiles => {
    const ext = server ? 'subjectAltName=IP:127.0.0.1,DNS:localhost' : 'extendedKeyUsage=clientAuth';
    writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
    openssl(`req ${EC_KEY} -keyout ${name}-key.pem -out ${name}.csr -subj /CN=${cn}`);
    openssl(
      `x509 -req -in ${name}.csr -CA ${ca}.pem -CAkey ${ca}-key.pem -CAcreateserial -out ${name}.pem -days ${days} -extfile ${name}.ext`,
    );
    return files(name);
  };
  const ca = makeCa('ca');
  const other = makeCa('other-ca');
  const server = issue('server', 'localhost', ca, 2, true);
  const made = new Map<string, CertFiles>();
  return {
    dir,
    ca: files(ca).cert,
    otherCa: files(other).cert,
    server,
    client(cn, options = {}) {
      const name = `client-${cn}${options.otherCa ? '-other' : ''}${options.expired ? '-expired' : ''}`;
      let certFiles = made.get(name);
      if (!certFiles) {
        certFiles = issue(name, cn, options.otherCa ? other : ca, options.expired ? -1 : 2);
        made.set(name, certFiles);
      }
      return certFiles;
    },
  };
}
