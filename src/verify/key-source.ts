import type { KeySource } from '../jwk/set.js';

/**
 * The suffix of a "signed by ISSUER" line naming the trust material that vouched for the OP key,
 * so a reader sees whether a live JWKS, a pinned file or an archived key decided.
 */
export function keySourceText(source: KeySource | undefined, kid?: string): string {
  if (!source) return '';
  const key = kid !== undefined ? `key ${JSON.stringify(kid)}` : 'key';
  switch (source.kind) {
    case 'live':
      return ` (${key} from live JWKS ${source.location})`;
    case 'pinned':
      return ` (${key} from pinned JWKS ${source.location})`;
    case 'archive':
      return ` (${key} from JWKS archive entry ${source.location})`;
    case 'root':
      return ` (${key} from trusted root ${source.location})`;
  }
}
