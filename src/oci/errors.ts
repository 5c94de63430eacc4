import { OpkError } from '../errors.js';

/**
 * Could not get the bytes at all (file missing, registry unreachable, 404, auth refused): an
 * I/O problem (exit 2), never a verification verdict. Messages never carry credentials.
 */
export class OciIoError extends OpkError {}
