import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { buildImage, buildkitPurl } from '../../helpers/buildkit.js';
import { OciIoError } from '../../../src/oci/errors.js';
import { OciLayout } from '../../../src/oci/layout.js';
import { familiarName, parseImageReference } from '../../../src/oci/reference.js';
import {
  ANNOTATION_REF_NAME,
  MEDIA_TYPE_OCI_INDEX,
  parseIndex,
  sha256Digest,
} from '../../../src/oci/types.js';
import { FACTS, PLATFORMS, tempDir } from '../../helpers/verify.js';

const run = promisify(execFile);

describe('OCI layout', () => {
  it('writes oci-layout, index.json and blobs, and reads them back digest-checked', async () => {
    const { dir, cleanup } = await tempDir('opk-layout-');
    try {
      const layout = await OciLayout.create(dir);
      const desc = await layout.writeBlob(
        '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}',
        MEDIA_TYPE_OCI_INDEX,
      );
      await layout.addManifest(desc, 'one');
      await layout.addManifest(desc, 'two');
      expect(JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8'))).toEqual({
        imageLayoutVersion: '1.0.0',
      });
      const reopened = await OciLayout.open(dir);
      expect(reopened.tags()).toEqual(['one', 'two']);
      const root = await reopened.resolve('two');
      expect(root.digest).toBe(desc.digest);
      expect(root.descriptor.annotations?.[ANNOTATION_REF_NAME]).toBe('two');
      expect((await reopened.resolve(desc.digest)).digest).toBe(desc.digest);
      // A tag moves rather than duplicating.
      const other = await reopened.writeBlob('{"schemaVersion":2,"manifests":[]}', MEDIA_TYPE_OCI_INDEX);
      await reopened.addManifest(other, 'one');
      expect(
        (await OciLayout.open(dir)).entries().map((e) => [e.annotations?.[ANNOTATION_REF_NAME], e.digest]),
      ).toEqual([
        ['two', desc.digest],
        ['one', other.digest],
      ]);
      await expect(reopened.resolve('missing')).rejects.toBeInstanceOf(OciIoError);
      // Bytes that do not hash to their name are refused.
      await writeFile(
        join(dir, 'blobs', 'sha256', desc.digest.slice(7)),
        '{"schemaVersion":2,"manifests":[ ]}',
      );
      await expect(reopened.resolve('two')).rejects.toMatchObject({ code: 'OCI_DIGEST_MISMATCH' });
      await expect(reopened.fetchBlob(other.digest, 4)).rejects.toMatchObject({ code: 'OCI_TOO_LARGE' });
      await expect(OciLayout.open(join(dir, 'nope'))).rejects.toBeInstanceOf(OciIoError);
    } finally {
      await cleanup();
    }
  });

  it('skopeo reads the BuildKit-style layouts we write, byte for byte', async () => {
    const img = await buildImage({
      name: 'example.test/acme/widget',
      tag: 'v1',
      platforms: PLATFORMS,
      facts: FACTS,
      form: 'oci-artifact',
    });
    const { dir, cleanup } = await tempDir('opk-layout-');
    try {
      const layout = await OciLayout.create(dir);
      await img.store.writeToLayout(layout, img.index, 'v1');
      const { stdout } = await run('skopeo', ['inspect', '--raw', `oci:${dir}:v1`]);
      expect(sha256Digest(stdout)).toBe(img.index.digest);
      const copy = join(dir, 'copy');
      await run('skopeo', ['copy', '--all', '--preserve-digests', `oci:${dir}:v1`, `oci:${copy}:v1`]);
      const copied = await OciLayout.open(copy);
      const root = await copied.resolve('v1');
      expect(root.digest).toBe(img.index.digest);
      const index = parseIndex(root.bytes);
      for (const m of index.manifests) expect((await copied.fetchManifest(m.digest)).digest).toBe(m.digest);
    } finally {
      await cleanup();
    }
  });
});

describe('image references', () => {
  it('an empty digest after @ (an unset $DIGEST) is named as such', () => {
    expect(() => parseImageReference('127.0.0.1:5055/hello@')).toThrow(
      'image reference 127.0.0.1:5055/hello@ has an empty digest after @',
    );
    expect(() => parseImageReference('127.0.0.1:5055/hello@md5:00')).toThrow('has an invalid digest');
  });

  it('parses registry references as Docker normalises them', () => {
    expect(parseImageReference('alpine')).toMatchObject({
      registry: 'docker.io',
      repository: 'library/alpine',
      tag: 'latest',
    });
    expect(parseImageReference('openpubkey/demo:main')).toMatchObject({
      registry: 'docker.io',
      repository: 'openpubkey/demo',
      tag: 'main',
    });
    const d = `sha256:${'a'.repeat(64)}`;
    expect(parseImageReference(`127.0.0.1:5000/demo/app@${d}`)).toMatchObject({
      registry: '127.0.0.1:5000',
      repository: 'demo/app',
      digest: d,
    });
    expect(parseImageReference(`localhost/app:v1@${d}`)).toMatchObject({
      registry: 'localhost',
      repository: 'app',
      tag: 'v1',
      digest: d,
    });
    expect(parseImageReference('oci:/tmp/x:v1')).toMatchObject({
      kind: 'oci-layout',
      dir: '/tmp/x',
      tag: 'v1',
    });
    expect(parseImageReference('oci:/tmp/x')).toMatchObject({ kind: 'oci-layout', dir: '/tmp/x' });
    expect(parseImageReference(`oci:rel/dir@${d}`)).toMatchObject({
      kind: 'oci-layout',
      dir: 'rel/dir',
      digest: d,
    });
    for (const bad of ['UPPER/case', 'x@sha256:12', 'host/repo:bad tag', 'oci:'])
      expect(() => parseImageReference(bad), bad).toThrow();
    expect(familiarName({ registry: 'docker.io', repository: 'library/alpine' })).toBe('alpine');
  });

  it('builds BuildKit purls with the %2F platform quirk', () => {
    expect(buildkitPurl('openpubkey/demo', 'main', { os: 'linux', architecture: 'amd64' })).toBe(
      'pkg:docker/openpubkey/demo@main?platform=linux%2Famd64',
    );
    expect(
      buildkitPurl('docker.io/library/alpine', '3', { os: 'linux', architecture: 'arm', variant: 'v7' }),
    ).toBe('pkg:docker/alpine@3?platform=linux%2Farm%2Fv7');
  });
});
