import { randomBytes } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { UsageError } from '../../errors.js';
import type { DevIssuer } from '../../issuer/dev-issuer.js';
import { IoError, readInput, type CliIo } from '../io.js';

/** `dev-issuer`'s help text and flag parsers, beside the command. */
export const DEV_ISSUER_HELP = `usage: opk-signer dev-issuer [--port N] [--issuer URL] [--claims JSON|@FILE] [--key FILE] [--jwks-out FILE] [--print-env]
  Serves discovery, a JWKS and GitHub's token-request endpoint until SIGTERM/SIGINT.
  SIGHUP rotates the signing key (the old one leaves the JWKS; --jwks-out is rewritten).
  --print-env prints ACTIONS_ID_TOKEN_REQUEST_URL=… and ACTIONS_ID_TOKEN_REQUEST_TOKEN=… once ready
    (the token is a local credential for this process only). The process keeps running, so load
    the lines from a file:  opk-signer dev-issuer --print-env > dev.env &
                            until [ -s dev.env ]; do sleep 0.1; done; set -a; . ./dev.env; set +a
  --issuer sets the iss claim (default: its own URL, http://127.0.0.1:PORT).
  --key FILE loads the RSA signing key (PEM or JWK); a missing FILE is created with a new key (mode 0600).
  OPK_DEV_ISSUER_REQUEST_TOKEN fixes the request token (default: random).
`;

export async function parseClaims(value: string | undefined, io: CliIo): Promise<Record<string, unknown>> {
  if (value === undefined) return {};
  const text = value.startsWith('@')
    ? (await readInput(value.slice(1), io, 'claims')).toString('utf8')
    : value;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError('USAGE', '--claims must be a JSON object (or @FILE holding one)');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new UsageError('USAGE', '--claims must be a JSON object');
  if ('aud' in parsed)
    throw new UsageError('USAGE', '--claims cannot set aud: it is the audience each request asks for');
  return parsed as Record<string, unknown>;
}

export function parsePort(value: string | undefined): number {
  if (value === undefined) return 0;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new UsageError('USAGE', `--port must be 0..65535, not ${value}`);
  return n;
}

/** Temp + rename: a verifier reading the file mid-rotation sees the old set or the new, never half. */
export async function writeJwks(file: string, issuer: DevIssuer): Promise<void> {
  const tmp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, JSON.stringify(issuer.jwks(), null, 2) + '\n');
    await rename(tmp, file);
  } catch (e) {
    throw new IoError(
      'IO',
      `cannot write --jwks-out ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}

export const devIssuerOptions = {
  port: { type: 'string' },
  issuer: { type: 'string' },
  claims: { type: 'string' },
  key: { type: 'string' },
  'jwks-out': { type: 'string' },
  'print-env': { type: 'boolean' },
} as const;

export function checkIssuerUrl(value: string | undefined): void {
  if (value !== undefined && !URL.canParse(value))
    throw new UsageError('USAGE', `--issuer must be a URL, not ${value}`);
}

/**
 * Serves until SIGTERM/SIGINT; each SIGHUP rotates. The log line comes after the file is
 * replaced: whoever waits for it can read the new set.
 */
export function untilStopped(io: CliIo, rotate: () => Promise<string>): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      process.off('SIGHUP', onHup);
      resolve();
    };
    const onHup = () => {
      rotate()
        .then((kid) => io.stderr.write(`dev-issuer: rotated signing key, kid ${kid}\n`))
        .catch((e: Error) => io.stderr.write(`dev-issuer: ${e.message}\n`));
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('SIGHUP', onHup);
  });
}
