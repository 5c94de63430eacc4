import { CATALOGUE, ERROR_CODES, WARNINGS, type ErrorKind } from './catalogue.js';

const KINDS: Record<ErrorKind, string> = {
  verdict: 'what was verified (or attested) was read and failed a check',
  input: "the caller's own input: flags, files, key set, policy, a platform the image lacks, a request",
  io: 'a file, registry, identity provider or sidecar could not be reached, refused, or answered wrongly',
  internal: 'a bug or a broken invariant of ours',
};

/**
 * docs/errors.md, rendered from the catalogue (a test keeps the file equal to this). Regenerate:
 * `npm run build && node -e "import('./dist/errors/doc.js').then((m) => process.stdout.write(m.renderErrorDoc()))" > docs/errors.md`
 */
export function renderErrorDoc(): string {
  const lines = [
    '# Error codes',
    '',
    '<!-- Generated from src/errors/catalogue.ts by renderErrorDoc() in src/errors/doc.ts; a test checks it. -->',
    '',
    'Every failure carries one of these codes: on stderr (`opk-signer: CODE: message`), in',
    "`verify --output json` (a check's `code`), and from the sidecar as the gRPC status below plus",
    'the trailer `opk-error-code`. The exit status and the gRPC status come from this table only.',
    '',
    '| kind | exit | meaning |',
    '|---|---|---|',
    ...(Object.keys(KINDS) as ErrorKind[]).map(
      (k) => `| \`${k}\` | ${k === 'verdict' ? 1 : 2} | ${KINDS[k]} |`,
    ),
    '',
    'A producing command (`sign`, `gq sign`, `jwks snapshot`) reports a verdict-kind code on its own',
    'input as `INPUT_INVALID` (exit 2). The sidecar reports a verdict-kind code by phase: on the',
    "statement sent, `STATEMENT_INVALID`; on the OP's answer, `OP_BAD_RESPONSE`; on the PK Token built",
    'from it, `TOKEN_UNUSABLE`.',
    '',
    '| code | kind | exit | gRPC | meaning |',
    '|---|---|---|---|---|',
    ...ERROR_CODES.map((c) => {
      const e = CATALOGUE[c];
      return `| \`${c}\` | ${e.kind} | ${e.exit} | \`${e.grpc}\` | ${e.doc.replace(/\|/g, '\\|')} |`;
    }),
    '',
    '## Warnings',
    '',
    "Reported on stderr and in the JSON reports' `warnings`; they never fail a run.",
    '',
    '| code | meaning |',
    '|---|---|',
    ...Object.entries(WARNINGS).map(([c, doc]) => `| \`${c}\` | ${doc} |`),
    '',
  ];
  return lines.join('\n');
}
