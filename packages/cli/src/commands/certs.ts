/**
 * `tablemesh certs init|issue <node>` — a development CA and certificates for the hub's TLS listener and for
 * mutual TLS, where the client certificate's CN is the node id (SPEC §7). node:crypto cannot make X.509
 * certificates, so this drives the `openssl` command (Debian package `openssl`; CI installs it in .ci/run).
 * Keys are EC P-256, written with mode 0600; existing files are kept unless --force.
 */
import { execFile } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { contextOf, type Io } from '../context.js';
import { CliError, EXIT, usage } from '../errors.js';
import { list } from '../format.js';

/** openssl arguments for a new EC P-256 key without a passphrase. */
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** Node (and CA file) names: SPEC §3 names. */
const NODE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

function openssl(args: readonly string[], cwd: string): Promise<string> {
  return new Promise((res, rej) => {
    execFile('openssl', args, { cwd, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return res(stdout);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return rej(
          new CliError(
            'the openssl command was not found: install it (Debian/Ubuntu: apt-get install openssl)',
            EXIT.FAILED,
            'TM_CLI_NO_OPENSSL',
          ),
        );
      }
      rej(
        new CliError(
          `openssl ${args[0]} failed: ${stderr.trim() || err.message}`,
          EXIT.FAILED,
          'TM_CLI_OPENSSL',
        ),
      );
    });
  });
}

function refuseOverwrite(files: readonly string[], force: boolean | undefined): void {
  const present = files.filter((f) => existsSync(f));
  if (present.length > 0 && !force) {
    throw new CliError(
      `${present.join(', ')} already exist: keep them, or pass --force to replace them`,
      EXIT.FAILED,
      'TM_CLI_EXISTS',
    );
  }
}

function days(raw: string): string {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 36_500) throw usage(`--days must be 1–36500, got '${raw}'`);
  return String(n);
}

/** What a certificate file says (for output and tests). */
export function describeCert(file: string) {
  const x = new X509Certificate(readFileSync(file));
  return {
    file,
    subject: x.subject,
    issuer: x.issuer,
    serialNumber: x.serialNumber,
    validFrom: new Date(x.validFrom).toISOString(),
    validTo: new Date(x.validTo).toISOString(),
    subjectAltName: x.subjectAltName ?? null,
    fingerprint256: x.fingerprint256,
    ca: x.ca,
  };
}

/** `subjectAltName` entries: `DNS:host` / `IP:addr` for each host, plus DNS:<node>. */
function sanOf(node: string, hosts: readonly string[]): string {
  const entries = [node, ...hosts].map((h) =>
    /^[\d.]+$/.test(h) || h.includes(':') ? `IP:${h}` : `DNS:${h}`,
  );
  return [...new Set(entries)].join(',');
}

/** What signNodeCertificate needs (paths are absolute). */
interface SignInput {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly node: string;
  readonly hosts: readonly string[];
  readonly days: string;
  readonly cert: string;
  readonly key: string;
}

/** A new EC key and a certificate for it with CN = node, signed by the CA (CSR and extension file removed after). */
async function signNodeCertificate(input: SignInput): Promise<void> {
  const { dir, caCert, caKey, node, cert, key } = input;
  const tmp = join(dir, `.${node}-${randomBytes(4).toString('hex')}`);
  const csr = `${tmp}.csr`;
  const ext = `${tmp}.ext`;
  writeFileSync(
    ext,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth,clientAuth',
      `subjectAltName=${sanOf(node, input.hosts)}`,
      '',
    ].join('\n'),
  );
  try {
    await openssl(['req', '-new', ...EC_KEY, '-keyout', key, '-out', csr, '-subj', `/CN=${node}`], dir);
    chmodSync(key, 0o600);
    const serial = `0x${randomBytes(16)
      .toString('hex')
      .replace(/^[89a-f]/, '1')}`; // positive, 128 bits
    const sign = [
      '-CA',
      caCert,
      '-CAkey',
      caKey,
      '-set_serial',
      serial,
      '-days',
      input.days,
      '-extfile',
      ext,
    ];
    await openssl(['x509', '-req', '-in', csr, ...sign, '-out', cert], dir);
  } finally {
    rmSync(csr, { force: true });
    rmSync(ext, { force: true });
  }
}

/** `certs init`. */
function makeCertsInitCommand(io: Io): Command {
  return new Command('init')
    .description('create a development CA (ca.pem, ca-key.pem)')
    .option('-d, --dir <dir>', 'where to write the files', 'certs')
    .option('--days <n>', 'validity in days', '3650')
    .option('--name <cn>', "the CA's common name", 'tablemesh development CA')
    .option('--force', 'replace existing files')
    .addHelpText('after', '\nExample:\n  $ tablemesh certs init --dir ./certs')
    .action(async (o: { dir: string; days: string; name: string; force?: boolean }, c: Command) => {
      const ctx = contextOf(c, io);
      const dir = resolve(o.dir);
      mkdirSync(dir, { recursive: true });
      const cert = join(dir, 'ca.pem');
      const key = join(dir, 'ca-key.pem');
      refuseOverwrite([cert, key], o.force);
      const ca = [
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ];
      const subject = `/CN=${o.name.replace(/[/\\]/g, '')}`;
      const out = ['-keyout', key, '-out', cert, '-days', days(o.days), '-subj', subject];
      await openssl(['req', '-x509', '-new', ...EC_KEY, ...out, ...ca], dir);
      chmodSync(key, 0o600);
      const info = describeCert(cert);
      ctx.print({ cert: info, key }, () =>
        [
          `CA certificate  ${cert}`,
          `CA key          ${key} (keep it private)`,
          `subject         ${info.subject}`,
          `valid until     ${info.validTo}`,
          '',
          `next: tablemesh certs issue <node> --dir ${o.dir}`,
        ].join('\n'),
      );
    });
}

/** `certs issue`. */
function makeCertsIssueCommand(io: Io): Command {
  return new Command('issue')
    .description('a certificate for a node (CN = node id), signed by the CA; for clients and servers')
    .argument('<node>', 'node id (the hub too: `tablemesh certs issue hub --host hub.example.com`)')
    .option('-d, --dir <dir>', 'the CA directory, where the files are written', 'certs')
    .option('--days <n>', 'validity in days', '825')
    .option(
      '--host <name>',
      'a DNS name or IP address the certificate is valid for (repeatable, comma-separated)',
      list,
      [],
    )
    .option('--force', 'replace existing files')
    .addHelpText(
      'after',
      `
The hub's listener certificate needs the names edges connect to (--host); an edge's client certificate for
mutual TLS only needs its node id (CN). Edge config: hub.ca, hub.cert, hub.key; hub config: mqtt.tls.

Examples:
  $ tablemesh certs issue hub --host localhost --host 127.0.0.1
  $ tablemesh certs issue edge1`,
    )
    .action(
      async (node: string, o: { dir: string; days: string; host: string[]; force?: boolean }, c: Command) => {
        const ctx = contextOf(c, io);
        if (!NODE_NAME.test(node))
          throw usage(`node id must match [A-Za-z_][A-Za-z0-9_]{0,63}, got '${node}'`);
        const dir = resolve(o.dir);
        const caCert = join(dir, 'ca.pem');
        const caKey = join(dir, 'ca-key.pem');
        if (!existsSync(caCert) || !existsSync(caKey)) {
          throw new CliError(
            `no CA in ${dir}: create one with \`tablemesh certs init --dir ${o.dir}\``,
            EXIT.NOT_FOUND,
            'TM_CLI_NO_CA',
          );
        }
        const cert = join(dir, `${node}.pem`);
        const key = join(dir, `${node}-key.pem`);
        refuseOverwrite([cert, key], o.force);
        await signNodeCertificate({ dir, caCert, caKey, node, hosts: o.host, days: days(o.days), cert, key });
        const info = describeCert(cert);
        ctx.print({ node, cert: info, key, ca: caCert }, () =>
          [
            `certificate  ${cert}`,
            `key          ${key} (keep it private)`,
            `subject      ${info.subject} · ${info.subjectAltName ?? ''}`,
            `valid until  ${info.validTo}`,
          ].join('\n'),
        );
      },
    );
}

/** `certs …`. */
export function makeCertsCommand(io: Io): Command {
  const cmd = new Command('certs')
    .description('a development CA and node certificates for TLS and mutual TLS (CN = node id)')
    .addHelpText(
      'after',
      `
Files (PEM): DIR/ca.pem + DIR/ca-key.pem; DIR/<node>.pem + DIR/<node>-key.pem. For production, use your own PKI.

Examples:
  $ tablemesh certs init --dir ./certs
  $ tablemesh certs issue hub --dir ./certs --host hub.example.com --host 127.0.0.1
  $ tablemesh certs issue edge1 --dir ./certs`,
    );

  for (const sub of [makeCertsInitCommand(io), makeCertsIssueCommand(io)]) cmd.addCommand(sub);
  return cmd;
}
