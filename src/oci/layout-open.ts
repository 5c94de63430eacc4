import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError } from '../errors.js';
import { OciIoError } from './errors.js';
import { atomicWrite } from '../files/atomic-write.js';
import { readOrIo } from './files.js';
import { MAX_MANIFEST_BYTES, parseIndex, type ImageIndex } from './types.js';

/**
 * Reading an existing OCI layout's `oci-layout` marker and `index.json`, including BuildKit
 * v0.11's directory export that has no marker. Kept apart from OciLayout so what opening
 * tolerates is in one place.
 */

export const LAYOUT_VERSION = '1.0.0';
/** `oci-layout` holds one short JSON object. */
const MAX_MARKER_BYTES = 64 * 1024;
/** index.json: a manifest-sized cap (about 20,000 entries), read before any run limit exists. */
const MAX_INDEX_JSON_BYTES = MAX_MANIFEST_BYTES;

/** What opening tolerated (a BuildKit v0.11 directory export without `oci-layout`). */
export interface LayoutWarning {
  code: 'OCI_LAYOUT_MARKER_MISSING';
  message: string;
}

export interface OpenedLayout {
  index: ImageIndex;
  /** No `oci-layout` file: the first write adds it, so what we write is a whole layout. */
  markerMissing: boolean;
  warnings: LayoutWarning[];
}

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

/** An existing layout's index; fails if `oci-layout` or `index.json` is missing or malformed. */
export async function readLayout(dir: string): Promise<OpenedLayout> {
  const isDir = await stat(dir).then(
    (st) => st.isDirectory(),
    () => false,
  );
  const hasMarker = isDir && (await exists(join(dir, 'oci-layout')));
  if (isDir && !hasMarker) return readWithoutMarker(dir);
  const marker = await readOrIo(join(dir, 'oci-layout'), `OCI layout ${dir}`, MAX_MARKER_BYTES);
  let version: unknown;
  try {
    version = (JSON.parse(Buffer.from(marker).toString('utf8')) as { imageLayoutVersion?: unknown })
      .imageLayoutVersion;
  } catch {
    throw new FormatError('OCI_LAYOUT_INVALID', `${dir}/oci-layout is not JSON`);
  }
  if (typeof version !== 'string' || !version.startsWith('1.')) {
    throw new FormatError(
      'OCI_LAYOUT_INVALID',
      `${dir}/oci-layout has unsupported imageLayoutVersion ${String(version)}`,
    );
  }
  return { index: await readIndexJson(dir), markerMissing: false, warnings: [] };
}

/**
 * BuildKit v0.11's `type=oci,tar=false` export writes `index.json` and `blobs/` but no
 * `oci-layout` (added in v0.12): read it, with a warning. A directory with neither is no layout.
 */
async function readWithoutMarker(dir: string): Promise<OpenedLayout> {
  if (!(await exists(join(dir, 'index.json'))) || !(await exists(join(dir, 'blobs'))))
    throw new OciIoError(
      'OCI_NOT_FOUND',
      `${dir} is a directory but not an OCI image layout (it has no oci-layout file)`,
    );
  const index = await readIndexJson(dir);
  return {
    index,
    markerMissing: true,
    warnings: [
      {
        code: 'OCI_LAYOUT_MARKER_MISSING',
        message: `${dir} has index.json and blobs/ but no oci-layout file (a BuildKit v0.11 directory export); read as an OCI layout 1.0.0`,
      },
    ],
  };
}

/** `index.json` as it is on disk now, bounded and parsed. */
export async function readIndexJson(dir: string): Promise<ImageIndex> {
  const bytes = await readOrIo(join(dir, 'index.json'), `OCI layout ${dir} index.json`, MAX_INDEX_JSON_BYTES);
  return parseIndex(bytes, `${dir}/index.json`);
}

/** The `oci-layout` marker every layout we write carries. */
export async function writeMarker(dir: string): Promise<void> {
  await atomicWrite(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION }));
}
