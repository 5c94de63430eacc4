import { familiarName, parseImageReference } from './reference.js';
import { platformString, type Platform } from './types.js';

/**
 * The one purl builder, in BuildKit's shape (`util/purl/image.go` `RefToPURL`): name, tag (or
 * digest) as version, `platform` qualifier with `/` escaped as `%2F` as BuildKit's packageurl
 * library does. The name is used as given: callers pass a familiar name when they have one.
 */
export function dockerPurl(name: string, version: string, platform?: Platform): string {
  const q = platform ? `?platform=${encodeURIComponent(platformString(platform))}` : '';
  // Each path segment escaped as BuildKit's packageurl does: `127.0.0.1:5055` → `127.0.0.1%3A5055`.
  const path = name.split('/').map(encodeURIComponent).join('/');
  return `pkg:docker/${path}@${encodeURIComponent(version)}${q}`;
}

/** Docker's familiar form of an image name (`docker.io/library/alpine` → `alpine`), as BuildKit's purls use. */
export function familiarImageName(name: string): string {
  const ref = parseImageReference(name.includes('@') || /:[^/]*$/.test(name) ? name : `${name}:latest`);
  return ref.kind === 'registry' ? familiarName(ref) : name;
}

export interface ParsedPurl {
  name: string;
  version?: string;
  qualifiers: Map<string, string>;
}

function safeUnescape(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** `pkg:docker/<name>@<version>?k=v&…` with Go QueryUnescape semantics on each part. */
export function parseDockerPurl(s: string): ParsedPurl | undefined {
  const m = /^pkg:docker\/([^@?#]+)(?:@([^?#]+))?(?:\?([^#]*))?/.exec(s);
  if (!m) return undefined;
  const qualifiers = new Map<string, string>();
  for (const kv of (m[3] ?? '').split('&')) {
    if (!kv) continue;
    const i = kv.indexOf('=');
    qualifiers.set(
      safeUnescape(i < 0 ? kv : kv.slice(0, i)),
      safeUnescape(i < 0 ? '' : kv.slice(i + 1).replace(/\+/g, ' ')),
    );
  }
  return { name: safeUnescape(m[1]!), ...(m[2] ? { version: safeUnescape(m[2]) } : {}), qualifiers };
}
