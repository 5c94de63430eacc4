import type { JsonObject } from '../encoding/json.js';
import type { KeySource, OpKeyQuery, OpKeySource } from '../jwk/set.js';
import type { Limits } from '../oci/limits.js';
import type { OnProgress } from '../oci/progress.js';
import type { ImageSource } from '../oci/source.js';
import type { ThreadPool } from '../signer/thread-pool.js';
import type { Platform } from '../oci/types.js';
import type { CheckResult, ClaimExpectations } from './identity.js';
import type { Policy } from './policy.js';
import type { SigningTimePolicy, TimestampInfo } from './signing-time.js';
import type { ImageHeader } from '../oci/image-header.js';

/** The options, trust and report of `verifyImage` (the report's JSON is docs/verify-output.md). */

export type { CheckResult } from './identity.js';

export const REPORT_SCHEMA = 'https://opk-signer.dev/schemas/verify-report/v1';

/** Trust material, injected: the CLI's `Trust` satisfies this. */
export interface VerifyTrust {
  keys: OpKeySource;
  prefetch?(query: OpKeyQuery): Promise<void>;
  trustedIssuers?: string[];
  /** Trust-material warnings (skipped JWKS members), read when the report is built. */
  warnings?: readonly Problem[];
}

/** What the caller expects of the image and its signers. */
export interface VerifyImageOptions {
  source: ImageSource;
  /** Tag or digest within the source. */
  reference: { tag?: string; digest?: string };
  /** For reports and purls: `host/repo:tag`, `oci:DIR:TAG`. */
  displayName: string;
  /**
   * Name the subjects' purls must carry when verifying by tag (familiar form, e.g.
   * `127.0.0.1:5000/demo/app` or `acme/widget`). Undefined: only the tag is compared.
   */
  subjectName?: string;
  /**
   * The tag (or digest) the subjects' purls must carry, as `--subject-name NAME:TAG` gives it;
   * checked whether the image is read by tag or by digest. Default: the reference's tag.
   */
  subjectVersion?: string;
  /**
   * Familiar image name for the report's purl (`127.0.0.1:5000/demo/app`); default subjectName,
   * then displayName. '': the image has no name (an unnamed OCI layout export), so no purl.
   */
  imageName?: string;
  /** Version for the report's purl when the reference has no tag (an OCI layout's ref name). */
  purlVersion?: string;
  trust: VerifyTrust;
  /** Issuers accepted; default GitHub Actions. */
  issuers?: string[];
  platforms?: Platform[];
  policy?: Policy;
  /** Flag-level claim expectations (`--repo-owner-id` …), checked before policy rules. */
  expect?: ClaimExpectations;
  /** Seconds since the epoch, for time checks. */
  now?: number;
  /** Bounds on the work one verification may cost (defaults: DEFAULT_LIMITS). */
  limits?: Partial<Limits>;
  /** Trusted-time checks (RFC 3161 timestamps, rooted key windows); undefined: none, as before. */
  signingTime?: SigningTimePolicy;
  /** Progress lines (each read, platform, statement); the caller decides whether to show them. */
  onProgress?: OnProgress;
  /**
   * Worker threads for the signatures' crypto: a number (0: on this thread) or `auto` (the
   * default: one per core when there are several and the image has 8 or more attestation layers).
   * The report is the same either way.
   */
  threads?: number | 'auto';
  /** A worker pool to verify on (e.g. shared with signing); it stays open. Overrides `threads`. */
  pool?: ThreadPool;
}

export interface Problem {
  code: string;
  message: string;
  platform?: string;
  layer?: string;
}

export interface AttestationResult {
  layer: { digest: string; mediaType: string; size: number };
  predicateType: string;
  signed: boolean;
  verified: boolean;
  checks: CheckResult[];
  error?: { code: string; message: string };
  statementType?: string;
  subjects?: { name: string; digest: Record<string, string> }[];
  identity?: Record<string, string>;
  opKey?: { kid?: string; jkt: string };
  /** Where the OP key came from: a live JWKS (URL), a pinned file (path) or an archive entry (file). */
  keySource?: KeySource;
  /**
   * The envelope signature the identity and checks above come from (index into `signatures`),
   * out of `of` OPK signatures of which `verified` verified.
   */
  signature?: { index: number; of: number; verified: number };
  /** When a trusted RFC 3161 timestamp proves the signature existed (ISO 8601). */
  signingTime?: string;
  timestamp?: TimestampInfo;
  /** Full statement and claims, for the OPA `input` document only (not rendered in `platforms`). */
  statement?: JsonObject;
  claims?: JsonObject;
}

export interface PlatformResult {
  platform: string;
  manifest: { digest: string; mediaType: string; size: number };
  purl: string;
  attestationManifest?: { digest: string; form: 'legacy' | 'oci-artifact' };
  verified: boolean;
  checks: CheckResult[];
  attestations: AttestationResult[];
}

export interface VerifyReport {
  schema: typeof REPORT_SCHEMA;
  verified: boolean;
  image: ImageHeader;
  trust: { issuers: string[] };
  policy: {
    requiredPredicateTypes: string[][];
    requireSignatures: boolean;
    claimRules: number;
    celRules: number;
  };
  platforms: PlatformResult[];
  warnings: Problem[];
  errors: Problem[];
}
