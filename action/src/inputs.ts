/**
 * The Action's inputs and the one place they become opk-signer CLI arguments. Inputs that
 * constrain the verified identity carry the CLI flag's own name, so the README's flag
 * documentation is the inputs' documentation too.
 */
import { getInput, getListInput, InputError } from './runner.js';

/** `mode` → the `attest` flags it means; `verify-only` signs nothing. */
export const MODES = {
  referrers: ['--mode', 'referrers'],
  inline: ['--mode', 'inline'],
  'verify-only': undefined,
} as const satisfies Record<string, readonly string[] | undefined>;

export type Mode = keyof typeof MODES;

/** Inputs passed to `verify` as `--NAME VALUE`, unchanged. */
export const VERIFY_FLAGS = [
  'repository',
  'repo-owner-id',
  'ref',
  'sha',
  'workflow-ref',
  'policy',
  'subject-name',
] as const;

/** Every input the entry point reads; action.yml declares exactly these (a test checks). */
export const INPUT_NAMES = [
  'image',
  'mode',
  ...VERIFY_FLAGS,
  'issuer',
  'platform',
  'registry-username',
  'registry-password',
] as const;

export interface ActionInputs {
  image: string;
  mode: Mode;
  verify: Partial<Record<(typeof VERIFY_FLAGS)[number], string>>;
  issuers: string[];
  platforms: string[];
  username?: string;
  password?: string;
}

/** Secrets, read apart so they can be masked before any other input is looked at. */
export function secretInputs(env: NodeJS.ProcessEnv): string[] {
  return [getInput(env, 'registry-password'), env.ACTIONS_ID_TOKEN_REQUEST_TOKEN].filter(
    (s): s is string => !!s,
  );
}

export function readInputs(env: NodeJS.ProcessEnv): ActionInputs {
  const image = getInput(env, 'image', true)!;
  const mode = getInput(env, 'mode') ?? 'referrers';
  if (!Object.hasOwn(MODES, mode))
    throw new InputError(`mode must be one of ${Object.keys(MODES).join(', ')}, not ${mode}`);
  const username = getInput(env, 'registry-username');
  const password = getInput(env, 'registry-password');
  if (!!username !== !!password) throw new InputError('registry-username and registry-password go together');
  const verify: ActionInputs['verify'] = {};
  for (const name of VERIFY_FLAGS) {
    const v = getInput(env, name);
    if (v !== undefined) verify[name] = v;
  }
  return {
    image,
    mode: mode as Mode,
    verify,
    issuers: getListInput(env, 'issuer'),
    platforms: getListInput(env, 'platform'),
    ...(username && password ? { username, password } : {}),
  };
}

function credentialArgs(i: ActionInputs): string[] {
  return i.username && !i.image.startsWith('oci:') ? ['--username', i.username, '--password-stdin'] : [];
}

/** `attest` arguments, or undefined in verify-only mode. A registry image is written back to. */
export function attestArgs(i: ActionInputs): string[] | undefined {
  const mode = MODES[i.mode];
  if (!mode) return undefined;
  return [
    i.image,
    ...mode,
    ...(i.image.startsWith('oci:') ? [] : ['--push']),
    '--json',
    ...credentialArgs(i),
  ];
}

/**
 * The image to verify: after signing, pinned to the digest attest reported, so a tag moved
 * by someone else in between is not what gets verified. A layout reference holds a tag or a
 * digest, not both: a layout tag (which attest itself moved) stays.
 */
export function verifyTarget(image: string, signedDigest: string | undefined): string {
  if (!signedDigest) return image;
  if (image.startsWith('oci:')) {
    const at = image.lastIndexOf('@');
    return at > 0 ? `${image.slice(0, at)}@${signedDigest}` : image;
  }
  const at = image.indexOf('@');
  return `${at >= 0 ? image.slice(0, at) : image}@${signedDigest}`;
}

export function verifyArgs(i: ActionInputs, target: string): string[] {
  const args = [target, '--output', 'json'];
  for (const name of VERIFY_FLAGS) {
    const v = i.verify[name];
    if (v !== undefined) args.push(`--${name}`, v);
  }
  for (const iss of i.issuers) args.push('--issuer', iss);
  if (i.platforms.length) args.push('--platform', i.platforms.join(','));
  return [...args, ...credentialArgs(i)];
}
