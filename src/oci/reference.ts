import { UsageError } from '../errors.js';
import { isDigest } from './types.js';

export const DOCKER_HUB_HOST = 'docker.io';
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

/** A registry reference, normalised as Docker does (`alpine` → `docker.io/library/alpine:latest`). */
export interface RegistryReference {
  kind: 'registry';
  /** Registry host[:port] as written (`docker.io` for Docker Hub). */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
  /** The reference as the user gave it. */
  original: string;
}

/** `oci:DIR[:TAG|@DIGEST]`, the containers-transport spelling. */
export interface LayoutReference {
  kind: 'oci-layout';
  dir: string;
  tag?: string;
  digest?: string;
  original: string;
}

export type ImageReference = RegistryReference | LayoutReference;

const REPO_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;

function usage(msg: string): UsageError {
  return new UsageError('USAGE', msg);
}

export function parseImageReference(input: string): ImageReference {
  if (input.startsWith('oci:')) return parseLayoutReference(input);
  return parseRegistryReference(input);
}

function parseLayoutReference(input: string): LayoutReference {
  let rest = input.slice(4);
  const out: LayoutReference = { kind: 'oci-layout', dir: '', original: input };
  const at = rest.lastIndexOf('@');
  if (at > 0 && isDigest(rest.slice(at + 1))) {
    out.digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  } else {
    // containers-transport: the tag follows the last ':' unless that ':' is part of the path.
    const colon = rest.lastIndexOf(':');
    if (colon > 0 && !rest.slice(colon + 1).includes('/')) {
      out.tag = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
      if (out.tag === '') throw usage(`empty tag in ${input}`);
    }
  }
  if (rest === '') throw usage(`no directory in ${input}`);
  out.dir = rest;
  return out;
}

function parseRegistryReference(input: string): RegistryReference {
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (digest === '')
      throw usage(
        `image reference ${input} has an empty digest after @ (is the variable that holds it set?)`,
      );
    if (!isDigest(digest))
      throw usage(`image reference ${input} has an invalid digest (only sha256 is supported)`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG_RE.test(tag)) throw usage(`image reference ${input} has an invalid tag`);
  }
  const parts = rest.split('/');
  let registry = DOCKER_HUB_HOST;
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    registry = first;
    parts.shift();
  }
  if (registry === 'index.docker.io' || registry === DOCKER_HUB_API_HOST) registry = DOCKER_HUB_HOST;
  if (registry === DOCKER_HUB_HOST && parts.length === 1) parts.unshift('library');
  if (parts.length === 0 || parts.some((p) => !REPO_COMPONENT.test(p))) {
    throw usage(`image reference ${input} is not host/repository[:tag][@sha256:…] or oci:DIR[:TAG]`);
  }
  if (tag === undefined && digest === undefined) tag = 'latest';
  return {
    kind: 'registry',
    registry,
    repository: parts.join('/'),
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
    original: input,
  };
}

/** Docker's "familiar" name: Docker Hub's host and `library/` dropped, as BuildKit's purls use. */
export function familiarName(ref: Pick<RegistryReference, 'registry' | 'repository'>): string {
  if (ref.registry !== DOCKER_HUB_HOST) return `${ref.registry}/${ref.repository}`;
  return ref.repository.startsWith('library/') ? ref.repository.slice('library/'.length) : ref.repository;
}

/**
 * `--subject-name` as users write references: `host/repo`, `host/repo:tag` or
 * `host/repo@sha256:…` → the familiar name the purls carry and, when written, the version
 * (tag or digest) they must carry too.
 */
export function parseSubjectName(value: string): { name: string; version?: string } {
  let ref: ImageReference;
  try {
    ref = parseImageReference(value);
  } catch {
    return { name: value }; // not a reference: compared as written
  }
  if (ref.kind !== 'registry') return { name: value };
  const noDigest = value.split('@')[0]!;
  const tagged = noDigest.lastIndexOf(':') > noDigest.lastIndexOf('/');
  const version = ref.digest ?? (tagged ? ref.tag : undefined);
  return { name: familiarName(ref), ...(version !== undefined ? { version } : {}) };
}
