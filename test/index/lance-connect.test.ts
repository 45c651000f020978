/**
 * The LanceDB connection helpers: how the control table is read and written (its rows, the damaged
 * cases a person is told about), when a table counts as missing, and how a store's native error is
 * worded for a person without ever quoting a secret. Local folders only (object storage has its own,
 * slower suite in object-storage.test.ts); the object-storage wording is checked on crafted native
 * messages, which is all `storeError` sees.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type * as lancedb from '@lancedb/lancedb';
import { afterEach, describe, expect, it } from 'vitest';
import { ImageSearchError } from '../../src/core/errors.ts';
import {
  connectLance,
  hasLocalControlTable,
  type LanceDb,
  openTableIfExists,
  readControl,
  storeError,
  writeControl,
} from '../../src/index/engines/lance-connect.ts';
import { CONTROL_TABLE } from '../../src/index/engines/lance-format.ts';
import { loadLance } from '../../src/index/engines/lance-runtime.ts';
import { type IndexLocation, parseIndexLocation } from '../../src/index/location.ts';
import { tempDir } from '../support/fixtures.ts';
import { building, publishedManifest } from '../support/lance-rows.ts';

const s3: IndexLocation = parseIndexLocation('s3://photos/index');
const VARS = ['AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'];
const SECRET = 'wJalrXUtnFEMI-K7MDENG-bPxRfiCY';

async function localLance(): Promise<{ dir: string; lance: LanceDb }> {
  const dir = tempDir('imagesearch-lance-connect-');
  return { dir, lance: await connectLance(parseIndexLocation(dir)) };
}

/** The control table written with raw rows, as a damaged or foreign database could hold it. */
/** A control table whose only version is garbage: LanceDB can neither read nor overwrite it. */
function damageControl(dir: string): void {
  mkdirSync(path.join(dir, `${CONTROL_TABLE}.lance`, '_versions'), { recursive: true });
  writeFileSync(path.join(dir, `${CONTROL_TABLE}.lance`, '_versions', '1.manifest'), 'garbage');
}

async function rawControl(lance: LanceDb, rows: { key: string; json: string }[]): Promise<void> {
  (await lance.db.createTable(CONTROL_TABLE, rows, { mode: 'overwrite' })).close();
}

describe('connectLance', () => {
  it('a local folder has no variables to check and no secrets, whatever the environment holds', async () => {
    const dir = tempDir('imagesearch-lance-connect-');
    const env = { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: SECRET, AWS_REGION: 'eu-west-1' };
    const lance = await connectLance(parseIndexLocation(dir), env);
    expect(lance.variables).toEqual([]);
    expect(lance.secrets).toEqual([]);
    expect(lance.location).toEqual({ kind: 'local', dir, uri: dir });
  });

  it('object storage whose options LanceDB refuses is a config error naming the variables', async () => {
    const err = await connectLance(
      s3,
      {},
      { options: { aws_allow_http: 'maybe' }, variables: VARS, secrets: [] },
    )
      .then(() => undefined)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageSearchError);
    expect(err).toMatchObject({
      code: 'config_invalid',
      userMessage: `Could not connect to the index at s3://photos/index: the store returned an error. Check ${VARS.join(', ')}.`,
    });
  });

  it('hasLocalControlTable is true only once a control table was written', async () => {
    const { dir, lance } = await localLance();
    expect(hasLocalControlTable(dir)).toBe(false);
    await writeControl(lance, {});
    expect(hasLocalControlTable(dir)).toBe(true);
  });
});

describe('the control table', () => {
  it('is undefined where none was written', async () => {
    const { lance } = await localLance();
    expect(await readControl(lance)).toBeUndefined();
  });

  it('round-trips the published and building rows, each on its own and together', async () => {
    const { lance } = await localLance();
    const published = publishedManifest();
    await writeControl(lance, { published });
    expect(await readControl(lance)).toEqual({ published });
    await writeControl(lance, { building });
    expect(await readControl(lance)).toEqual({ building });
    await writeControl(lance, { published, building });
    expect(await readControl(lance)).toEqual({ published, building });
  });

  it('written empty still reads back, as a state with neither row', async () => {
    const { lance } = await localLance();
    await writeControl(lance, { published: publishedManifest() });
    await writeControl(lance, {});
    expect(await readControl(lance)).toEqual({});
  });

  it('ignores rows it does not know, even one shaped like a building row', async () => {
    const { lance } = await localLance();
    await rawControl(lance, [
      { key: 'none', json: '{}' },
      { key: 'from-a-newer-version', json: JSON.stringify(building) },
    ]);
    expect(await readControl(lance)).toEqual({});
  });

  it('reads closes every table it opened', async () => {
    const { lance } = await localLance();
    await writeControl(lance, { building });
    const opened: lancedb.Table[] = [];
    const open = lance.db.openTable.bind(lance.db);
    lance.db.openTable = async (...args: Parameters<typeof open>) => {
      const table = await open(...args);
      opened.push(table);
      return table;
    };
    await readControl(lance);
    expect(opened).toHaveLength(1);
    expect(opened[0]!.isOpen()).toBe(false);
  });

  it('holding invalid JSON is a damaged index, with the command that rebuilds it', async () => {
    const { dir, lance } = await localLance();
    await rawControl(lance, [{ key: 'published', json: '{"format":' }]);
    await expect(readControl(lance)).rejects.toMatchObject({
      code: 'index_invalid',
      userMessage: `The LanceDB index at ${dir} is damaged (its imagesearch table holds invalid JSON). Rebuild it with \`npx imagesearch index … --engine lancedb --out ${dir}\`.`,
    });
  });

  it('a manifest with a bad field names the field by its dotted path', async () => {
    const { dir, lance } = await localLance();
    const bad = { ...publishedManifest(), ann: { type: 'ivf_rq', partitions: -3, bits: 4 } };
    await rawControl(lance, [{ key: 'published', json: JSON.stringify(bad) }]);
    const err = (await readControl(lance).catch((e: unknown) => e)) as ImageSearchError;
    expect(err.code).toBe('index_invalid');
    expect(err.userMessage).toMatch(
      new RegExp(
        `^The LanceDB index at ${dir} is damaged \\(manifest field "ann\\.partitions" .+\\)\\. Rebuild it`,
      ),
    );
  });

  it('a building row that does not parse is ignored (the published index is still served)', async () => {
    const { lance } = await localLance();
    const published = publishedManifest();
    await rawControl(lance, [
      { key: 'published', json: JSON.stringify(published) },
      { key: 'building', json: JSON.stringify({ table: 'not a table' }) },
    ]);
    expect(await readControl(lance)).toEqual({ published });
  });

  it('that the store cannot read is worded with the folder and the native message', async () => {
    const { dir, lance } = await localLance();
    damageControl(dir);
    const err = (await readControl(lance).catch((e: unknown) => e)) as ImageSearchError;
    expect(err).toBeInstanceOf(ImageSearchError);
    expect(err.userMessage).toBe(`Could not read the LanceDB index in ${dir}.`);
    expect(err.message).toMatch(/\(lance error: .*sufficient data/);
  });

  it('that the store cannot write is worded with the folder', async () => {
    const { dir, lance } = await localLance();
    damageControl(dir);
    await expect(writeControl(lance, { building })).rejects.toMatchObject({
      code: 'index_invalid',
      userMessage: `Could not write to the LanceDB index in ${dir}.`,
    });
  });
});

describe('openTableIfExists', () => {
  it('is undefined for a table that does not exist, and the table for one that does', async () => {
    const { lance } = await localLance();
    expect(await openTableIfExists(lance, 'imagesearch-absent')).toBeUndefined();
    await writeControl(lance, {});
    const table = await openTableIfExists(lance, CONTROL_TABLE);
    expect(table?.name).toBe(CONTROL_TABLE);
    table?.close();
  });

  it('treats the object stores’ "not found" wordings as missing and passes any other error on', async () => {
    const failing = (message: string): LanceDb => ({
      db: {
        openTable: () => Promise.reject(new Error(message)),
      } as unknown as lancedb.Connection,
      location: s3,
      variables: VARS,
      secrets: [],
    });
    for (const missing of [
      'Table imagesearch was not found',
      'lance error: Not found: photos/index/imagesearch.lance/_versions, /cargo/src/io.rs:10',
    ])
      expect(await openTableIfExists(failing(missing), CONTROL_TABLE)).toBeUndefined();
    await expect(
      openTableIfExists(failing('Generic S3 error: 503 Slow Down'), CONTROL_TABLE),
    ).rejects.toThrow('503 Slow Down');
  });

  it('passes on a damaged table’s error rather than calling it missing', async () => {
    const { dir, lance } = await localLance();
    mkdirSync(path.join(dir, 'imagesearch-bad.lance', '_versions'), { recursive: true });
    writeFileSync(path.join(dir, 'imagesearch-bad.lance', '_versions', '1.manifest'), 'garbage');
    await expect(openTableIfExists(lance, 'imagesearch-bad')).rejects.toThrow(/sufficient data/);
  });
});

describe('storeError', () => {
  const local = parseIndexLocation('/srv/index');

  it('keeps an ImageSearchError as it is', () => {
    const e = new ImageSearchError('index_invalid', 'already worded');
    expect(storeError(s3, VARS, [SECRET], e, 'read')).toBe(e);
  });

  it('on a local folder: what failed and where, the native message (300 characters at most) as detail and cause', () => {
    const native = `lance error: ${'x'.repeat(400)}`;
    const err = storeError(local, [], [], new Error(native), 'publish');
    expect(err.code).toBe('index_invalid');
    expect(err.userMessage).toBe('Could not publish the LanceDB index in /srv/index.');
    expect(err.message).toBe(`Could not publish the LanceDB index in /srv/index. (${native.slice(0, 300)})`);
    expect((err.cause as Error).message).toBe(native);
  });

  const reasons: [string, string][] = [
    ['Generic S3 error: NoSuchBucket', 'the bucket does not exist'],
    ['Generic S3 error: The specified bucket photos does not exist', 'the bucket does not exist'],
    ['Client error with status 403 Forbidden: SignatureDoesNotMatch', 'the store refused the credentials'],
    ['InvalidAccessKeyId: the key you provided is not in our records', 'the store refused the credentials'],
    [
      'Generic S3 error: http://127.0.0.1:9000 uses a scheme that is not allowed',
      'plain http is not allowed',
    ],
    ['Generic Config error: set allow_http to use an insecure endpoint', 'plain http is not allowed'],
    ['builder error for url (http://minio:9000)', 'plain http is not allowed'],
    [
      'error trying to connect: tcp connect error: Connection refused (os error 111)',
      'the storage endpoint cannot be reached',
    ],
    ['dns error: failed to lookup address information', 'the storage endpoint cannot be reached'],
    ['Generic S3 error: operation timeout after 30s', 'the storage endpoint cannot be reached'],
    ['Generic S3 error: request timed out', 'the storage endpoint cannot be reached'],
    ['Generic S3 error: error sending request for url', 'the storage endpoint cannot be reached'],
    ['Generic S3 error: 500 Internal Server Error', 'the store returned an error'],
  ];
  for (const [native, reason] of reasons) {
    it(`on object storage: "${native}" reads as "${reason}"`, () => {
      const err = storeError(s3, VARS, [SECRET], new Error(native), 'read');
      expect(err.code).toBe('config_invalid');
      expect(err.userMessage).toBe(
        `Could not read the index at s3://photos/index: ${reason}. Check ${VARS.join(', ')}.`,
      );
    });
  }

  it('never quotes a secret, in the message or in the cause, on either kind of location', () => {
    const native = `SignatureDoesNotMatch: the request signed with ${SECRET} was refused`;
    for (const location of [s3, local]) {
      const err = storeError(location, VARS, [SECRET], native, 'write to');
      expect(err.message).not.toContain(SECRET);
      expect(String((err.cause as Error).message)).toBe(
        'SignatureDoesNotMatch: the request signed with [redacted] was refused',
      );
    }
  });
});

describe('loadLance', () => {
  const before = process.env.LANCEDB_LOG;
  afterEach(() => {
    if (before === undefined) delete process.env.LANCEDB_LOG;
    else process.env.LANCEDB_LOG = before;
  });

  it('keeps LanceDB’s native log to errors unless the operator set LANCEDB_LOG', async () => {
    delete process.env.LANCEDB_LOG;
    const lance = await loadLance();
    expect(process.env.LANCEDB_LOG).toBe('error');
    expect(typeof lance.connect).toBe('function');
    process.env.LANCEDB_LOG = 'debug';
    await loadLance();
    expect(process.env.LANCEDB_LOG).toBe('debug');
  });
});
