/**
 * The local certificate authority a TLS-terminating proxy mints its certificates from, so a client that trusts
 * one file (`ca.pem`) trusts every proxy of this machine. Certificates are made by `openssl` (3.0+; Node's crypto
 * makes keys but not X.509 certificates) through the one command runner; keys are EC P-256.
 *
 *   <dir>/ca.pem       the CA certificate: what users add to their trust store (`faultline proxy ca` prints it)
 *   <dir>/ca-key.pem   its private key (0600); never leaves the directory
 *
 *   ensureCa(dir) ─▶ LocalCa ─mint(['localhost','127.0.0.1'])─▶ {cert, key} (PEM, in memory, cached per host set)
 *
 * @example
 *   const ca = await ensureCa('.faultline/ca');
 *   const { cert, key } = await ca.mint(['localhost', '127.0.0.1']);
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FaultlineError, isFaultlineError } from '../core/errors.ts';
import { run } from '../core/exec.ts';

const CA_DAYS = 3650;
/** What browsers and Apple clients accept for a leaf; Node accepts any. */
const LEAF_DAYS = 825;
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export interface MintedCertificate {
  /** PEM certificate chain: the leaf, then the CA. */
  readonly cert: string;
  /** PEM private key of the leaf. */
  readonly key: string;
}

export interface LocalCa {
  readonly dir: string;
  /** Absolute path of the CA certificate users trust. */
  readonly certPath: string;
  readonly keyPath: string;
  /** True when this call created the CA (false: it was already there). */
  readonly created: boolean;
  /** A leaf certificate for these DNS names and IP addresses, signed by the CA. */
  mint(hosts: readonly string[]): Promise<MintedCertificate>;
}

/** Opens the CA in `dir`, creating it (and `dir`) when it does not exist yet. */
export async function ensureCa(dir: string): Promise<LocalCa> {
  const root = resolve(dir);
  const certPath = join(root, 'ca.pem');
  const keyPath = join(root, 'ca-key.pem');
  let created = false;
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    await openssl([
      'req', '-x509', ...EC_KEY, '-keyout', keyPath, '-out', certPath, '-days', String(CA_DAYS),
      '-subj', '/CN=faultline local CA',
      '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    chmodSync(keyPath, 0o600);
    created = true;
  }
  const caPem = readFileSync(certPath, 'utf8');
  const minted = new Map<string, Promise<MintedCertificate>>();
  return {
    dir: root,
    certPath,
    keyPath,
    created,
    mint(hosts) {
      const names = [...new Set(hosts)].sort();
      const key = names.join(',');
      let cert = minted.get(key);
      if (cert === undefined) {
        cert = mintLeaf(certPath, keyPath, caPem, names);
        minted.set(key, cert);
        cert.catch(() => minted.delete(key));
      }
      return cert;
    },
  };
}

async function mintLeaf(caCert: string, caKey: string, caPem: string, hosts: string[]): Promise<MintedCertificate> {
  const work = mkdtempSync(join(tmpdir(), 'faultline-mint-'));
  try {
    const san = hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
    const certPath = join(work, 'cert.pem');
    const keyPath = join(work, 'key.pem');
    await openssl([
      'req', '-x509', ...EC_KEY, '-keyout', keyPath, '-out', certPath, '-days', String(LEAF_DAYS),
      '-subj', `/CN=${hosts[0].replace(/[/=+,\\]/g, '_')}`,
      '-CA', caCert, '-CAkey', caKey,
      '-addext', `subjectAltName=${san}`,
      '-addext', 'basicConstraints=critical,CA:FALSE',
      '-addext', 'keyUsage=critical,digitalSignature',
      '-addext', 'extendedKeyUsage=serverAuth',
    ]);
    return { cert: readFileSync(certPath, 'utf8') + caPem, key: readFileSync(keyPath, 'utf8') };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args, { errorCode: 'COMMAND_FAILED', timeoutMs: 30_000 });
  } catch (err) {
    if (isFaultlineError(err) && /ENOENT/.test(err.message)) {
      throw new FaultlineError('CAPABILITY_MISSING', 'minting a TLS certificate needs openssl (3.0 or later), which is not installed', {
        hint: 'install it (Debian: apt-get install openssl; scripts/setup.sh does), or give the proxy a cert and key',
      });
    }
    throw err;
  }
}
