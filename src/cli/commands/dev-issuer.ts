import { startDevIssuer } from '../../issuer/dev-issuer.js';
import { parse, type CliIo } from '../io.js';
import {
  checkIssuerUrl,
  DEV_ISSUER_HELP,
  devIssuerOptions,
  parseClaims,
  parsePort,
  untilStopped,
  writeJwks,
} from '../options/dev-issuer.js';

export const summary =
  'run a GitHub Actions-compatible OIDC token service on 127.0.0.1 (demo, tests, air-gapped)';

export const spelling = 'dev-issuer';

export const usage = DEV_ISSUER_HELP;

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values } = parse(args, devIssuerOptions, false);
  checkIssuerUrl(values.issuer);
  const claims = await parseClaims(values.claims, io);
  const requestToken = io.env.OPK_DEV_ISSUER_REQUEST_TOKEN || undefined;
  const issuer = await startDevIssuer({
    port: parsePort(values.port),
    claims,
    ...(values.issuer !== undefined ? { issuer: values.issuer } : {}),
    ...(values.key !== undefined ? { keyFile: values.key } : {}),
    ...(requestToken ? { requestToken } : {}),
  });
  try {
    if (values['jwks-out']) await writeJwks(values['jwks-out'], issuer);
    io.stderr.write(`dev-issuer: listening on ${issuer.url} (issuer ${issuer.issuer}, kid ${issuer.kid})\n`);
    if (values['print-env']) {
      io.stdout.write(
        `ACTIONS_ID_TOKEN_REQUEST_URL=${issuer.requestUrl}\nACTIONS_ID_TOKEN_REQUEST_TOKEN=${issuer.requestToken}\n`,
      );
    }
    const out = values['jwks-out'];
    await untilStopped(io, async () => {
      issuer.rotate();
      if (out) await writeJwks(out, issuer);
      return issuer.kid;
    });
  } finally {
    await issuer.close();
  }
  io.stderr.write('dev-issuer: stopped\n');
  return 0;
}
