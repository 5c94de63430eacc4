import { OpkError } from '../errors.js';

/**
 * `attest` refused to produce a result (nothing to sign, a statement that does not describe its
 * platform, a tag that moved under us): exit 1. Nothing was pushed that claims success.
 */
export class AttestError extends OpkError {}

/** The signer (in-process provider or `--signer` sidecar) could not be reached: I/O, exit 2. */
export class SignerIoError extends OpkError {}
