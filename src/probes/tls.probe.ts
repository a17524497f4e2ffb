/**
 * The `tls` kind: the certificate a server presents. The handshake accepts any certificate so that
 * one that fails can still be read; the chain, the days left and the name are then judged here,
 * each on its own, so a valid certificate about to expire is seen as such.
 */
import { isIP } from 'node:net';
import { checkServerIdentity, connect, rootCertificates, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import type { TargetOf } from '../domain/audit/inventory.js';
import { causeOf, describeError, describeTarget, errorCode, misconfigured, observation, onAbort, reachedObservation, unreachable, type Findings, type ProbeContext } from './findings.js';

export interface TlsProbeDeps {
  /** Reads a CA file (PEM). */
  readFile: (path: string) => Promise<string | Buffer>;
  /** Wall clock, epoch ms: what the days left count from. */
  now: () => number;
}

const dayMs = 86_400_000;

interface Presented {
  certificate: DetailedPeerCertificate;
  /** Null when the chain leads to a trusted CA; else OpenSSL's verification code (`CERT_HAS_EXPIRED`). */
  chainError: string | null;
}

export async function probeTls(target: TargetOf<'tls'>, deps: TlsProbeDeps, ctx: ProbeContext): Promise<Findings> {
  let ca: string[] | undefined;
  if (target.caFile !== undefined) {
    try {
      // `ca` replaces the system's roots: keep them, and trust the file's CA besides.
      ca = [...rootCertificates, String(await deps.readFile(target.caFile))];
    } catch (err) {
      return misconfigured(target, [`CA file ${target.caFile} cannot be read (${errorCode(err) ?? describeError(err)})`]);
    }
  }
  const name = target.servername ?? target.host;
  let presented: Presented;
  try {
    presented = await handshake(target.host, target.port, name, ca, ctx.signal);
  } catch (err) {
    return unreachable(target, causeOf(err), describeError(err));
  }
  const { certificate, chainError } = presented;
  const what = describeTarget(target);

  const expires = new Date(certificate.valid_to);
  const daysLeft = Math.floor((expires.getTime() - deps.now()) / dayMs);
  const expiresText = Number.isNaN(expires.getTime()) ? `an unreadable date (${certificate.valid_to})` : expires.toISOString();
  const nameError = checkServerIdentity(name, certificate);
  const names = certificate.subjectaltname ? certificate.subjectaltname : `CN=${String(certificate.subject.CN)}`;

  return {
    reach: { reachable: true },
    observations: [
      reachedObservation(target),
      observation('certificate', `${what} presents a certificate that chains to a trusted CA`, 'a valid chain', chainError ?? 'a valid chain', chainError === null, 'security_vulnerability'),
      observation(
        'days-left',
        `The certificate of ${what} is valid for at least ${target.minDaysLeft} more days`,
        `>= ${target.minDaysLeft} days`,
        `${daysLeft} days (expires ${expiresText})`,
        daysLeft >= target.minDaysLeft,
        'security_vulnerability',
      ),
      observation('name', `The certificate of ${what} is issued for ${name}`, `a name matching ${name}`, names, nameError === undefined, 'security_vulnerability'),
    ],
  };
}

/** Completes a handshake whatever the certificate, and reads it with the chain's verdict. */
function handshake(host: string, port: number, name: string, ca: string[] | undefined, signal: AbortSignal): Promise<Presented> {
  return new Promise<Presented>((resolve, reject) => {
    const socket: TLSSocket = connect({
      host,
      port,
      // SNI carries names only (RFC 6066); an address is still checked against the certificate.
      ...(isIP(name) === 0 ? { servername: name } : {}),
      ca,
      rejectUnauthorized: false,
      // The name is judged separately below: here `authorized` then speaks of the chain alone.
      checkServerIdentity: () => undefined,
    });
    const stopListening = onAbort(signal, () => socket.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted')));
    socket.once('secureConnect', () => {
      stopListening();
      const certificate = socket.getPeerCertificate(true);
      // At run time Node sets `authorizationError` to OpenSSL's code, a string, despite its declared type.
      const failure: unknown = socket.authorizationError;
      const chainError = socket.authorized ? null : typeof failure === 'string' ? failure : (errorCode(failure) ?? describeError(failure));
      socket.destroy();
      if (Object.keys(certificate).length === 0) {
        reject(Object.assign(new Error('the server presented no certificate'), { code: 'ERR_TLS_NO_CERTIFICATE' }));
        return;
      }
      resolve({ certificate, chainError });
    });
    socket.once('error', (err: Error) => {
      stopListening();
      socket.destroy();
      reject(err);
    });
  });
}
