/* global __filename */
// Injected into the CommonJS bundle: the library finds files beside itself through
// import.meta.url, which in CommonJS is the bundle's own __filename.
import { pathToFileURL } from 'node:url';

export const import_meta_url = pathToFileURL(__filename).href;
