import { openBundle } from '../../bundle/open.js';
import { UsageError } from '../../errors.js';
import { parseImageReference, type ImageReference } from '../../oci/reference.js';
import type { VerifyImageOptions } from '../../verify/image.js';
import { ArgumentError, type CliIo } from '../io.js';
import type { TrustFlags } from '../keys.js';
import type { RegistryFlagValues } from '../registry.js';
import { openImage } from './verify.js';

/** What a verifying command reads: IMAGE, or an offline bundle (`--bundle FILE [IMAGE@DIGEST]`). */
export type TargetFlags = { ref: ImageReference } | { bundle: string; digest?: string; displayName?: string };

/** The image as `verifyImage` names it, opened; `offline`: no key may come from the network. */
export interface OpenedTarget {
  image: Pick<
    VerifyImageOptions,
    'source' | 'reference' | 'displayName' | 'imageName' | 'subjectName' | 'subjectVersion' | 'purlVersion'
  >;
  offline?: boolean;
  close?: () => Promise<void>;
}

/** IMAGE or `--bundle FILE [IMAGE@DIGEST]`, checked before any I/O. */
export function targetFlags(values: TrustFlags & { bundle?: string }, positionals: string[]): TargetFlags {
  if (values.bundle === undefined) {
    if (positionals.length !== 1) throw new ArgumentError('expected one IMAGE');
    return { ref: parseImageReference(positionals[0]!) };
  }
  if (positionals.length > 1) throw new ArgumentError('verify --bundle FILE takes at most one IMAGE@DIGEST');
  if (!values['trusted-root'] && !values.jwks && !values['jwks-archive'])
    throw new UsageError(
      'USAGE',
      '--bundle verifies offline: give --trusted-root ROOT.json (or --jwks FILE)',
    );
  const arg = positionals[0];
  if (arg === undefined) return { bundle: values.bundle };
  if (/^sha256:[0-9a-f]{64}$/.test(arg)) return { bundle: values.bundle, digest: arg };
  const ref = parseImageReference(arg);
  if (ref.digest === undefined)
    throw new UsageError('USAGE', `with --bundle, IMAGE must name a digest (IMAGE@sha256:…), not ${arg}`);
  return { bundle: values.bundle, digest: ref.digest, displayName: ref.original };
}

/** Opens the target: a bundle file, an OCI layout, or a repository in a registry. */
export async function openTarget(
  t: TargetFlags,
  values: RegistryFlagValues & { 'subject-name'?: string },
  io: CliIo,
): Promise<OpenedTarget> {
  const subjectName = values['subject-name'];
  if ('bundle' in t) {
    const { source, reference, displayName, imageName } = await openBundle(t.bundle, t);
    const named = subjectName !== undefined ? { subjectName } : {};
    return { image: { source, reference, displayName, imageName, ...named }, offline: true };
  }
  const { ref } = t;
  const { close, ...opened } = await openImage(ref, values, io);
  const reference = {
    ...(ref.tag !== undefined ? { tag: ref.tag } : {}),
    ...(ref.digest !== undefined ? { digest: ref.digest } : {}),
  };
  return { image: { ...opened, reference, displayName: ref.original }, ...(close ? { close } : {}) };
}
