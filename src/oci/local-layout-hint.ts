import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import type { RegistryReference } from './reference.js';

/**
 * `verify stock-prov` while ./stock-prov is an OCI layout: a bare name is a Docker Hub reference
 * (`docker.io/library/stock-prov`), which would go to the network and fail there with a
 * confusing error. Refused first, with the spelling that was meant.
 */
export async function refuseLocalLayoutName(ref: RegistryReference): Promise<void> {
  if (!impliedHost(ref)) return;
  const path = ref.original.split('@')[0]!.replace(/:[^/:]*$/, '');
  const suffix = ref.original.slice(path.length);
  const isLayout = await stat(join(path, 'index.json')).then(
    (st) => st.isFile(),
    () => false,
  );
  if (isLayout)
    throw new UsageError(
      'IMAGE_REF_IS_LAYOUT',
      `${ref.original} is a registry reference (${ref.registry}/${ref.repository}), but ${path} is a local OCI layout: did you mean oci:${path}${suffix}?`,
    );
}

/** No registry host was written: the name would be looked up on Docker Hub. */
function impliedHost(ref: RegistryReference): boolean {
  const parts = ref.original.split('@')[0]!.split('/');
  const first = parts[0]!;
  if (first === '.' || first === '..') return true;
  return !(parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost'));
}
