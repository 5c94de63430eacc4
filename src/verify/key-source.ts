import { printable } from '../encoding/printable.js';
import type { KeySource } from '../jwk/set.js';
import { printableKid } from '../jwk/set.js';

/**
 * The suffix of a "signed by ISSUER" line naming the trust material that vouched for the OP key,
 * so a reader sees whether a live JWKS, a pinned file or an archived key decided. Kid and
 * location are the OP's or a file name's words: escaped and bounded.
 */
export function keySourceText(source: KeySource | undefined, kid?: string): string {
  if (!source) return '';
  const key = kid !== undefined ? `key ${printableKid(kid)}` : 'key';
  const at = printable(source.location);
  switch (source.kind) {
    case 'live':
      return ` (${key} from live JWKS ${at})`;
    case 'pinned':
      return ` (${key} from pinned JWKS ${at})`;
    case 'archive':
      return ` (${key} from JWKS archive entry ${at})`;
    case 'root':
      return ` (${key} from trusted root ${at})`;
  }
}
