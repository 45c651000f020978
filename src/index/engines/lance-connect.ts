import { existsSync } from 'node:fs';
import path from 'node:path';
import type * as lancedb from '@lancedb/lancedb';
import { ImageSearchError } from '../../core/errors.ts';
import {
  type IndexLocation,
  type ObjectStoreSettings,
  objectStoreSettings,
  withoutSecrets,
} from '../location.ts';
import {
  type BuildingState,
  buildingSchema,
  CONTROL_TABLE,
  type LanceManifest,
  lanceManifestSchema,
} from './lance-format.ts';
import { loadLance } from './lance-runtime.ts';

/** An open LanceDB database plus what is needed to word its errors without leaking secrets. */
export interface LanceDb {
  db: lancedb.Connection;
  location: IndexLocation;
  /** Variables to check when the store cannot be reached (names only). */
  variables: string[];
  secrets: string[];
}

/**
 * Opens the LanceDB database at `location`. Object storage takes `settings` when the caller has them
 * (the server passes Config's); otherwise they are read from `env` by the same schema.
 */
export async function connectLance(
  location: IndexLocation,
  env: NodeJS.ProcessEnv = process.env,
  given?: ObjectStoreSettings,
): Promise<LanceDb> {
  const { connect } = await loadLance();
  if (location.kind === 'local') {
    return { db: await connect(location.dir), location, variables: [], secrets: [] };
  }
  const settings = given ?? objectStoreSettings(env);
  try {
    const db = await connect(location.uri, { storageOptions: settings.options });
    return { db, location, variables: settings.variables, secrets: settings.secrets };
  } catch (e) {
    throw storeError(location, settings.variables, settings.secrets, e, 'connect to');
  }
}

/** True when a local folder holds an imagesearch LanceDB control table. */
export function hasLocalControlTable(dir: string): boolean {
  return existsSync(path.join(dir, `${CONTROL_TABLE}.lance`));
}

export interface ControlState {
  published?: LanceManifest;
  building?: BuildingState;
}

/** Reads the control table; undefined when the database has none (no index here yet). */
export async function readControl(lance: LanceDb): Promise<ControlState | undefined> {
  let rows: Record<string, unknown>[];
  try {
    const table = await openTableIfExists(lance, CONTROL_TABLE);
    if (!table) return undefined;
    try {
      rows = (await table.query().toArray()) as Record<string, unknown>[];
    } finally {
      table.close();
    }
  } catch (e) {
    throw storeError(lance.location, lance.variables, lance.secrets, e, 'read');
  }
  const state: ControlState = {};
  for (const row of rows) {
    let json: unknown;
    try {
      json = JSON.parse(String(row.json));
    } catch {
      throw damaged(lance.location, `its ${CONTROL_TABLE} table holds invalid JSON`);
    }
    if (row.key === 'published') {
      const parsed = lanceManifestSchema.safeParse(json);
      if (!parsed.success) {
        // A failed parse always reports at least one issue.
        const first = parsed.error.issues[0]!;
        throw damaged(lance.location, `manifest field "${first.path.join('.')}" ${first.message}`);
      }
      state.published = parsed.data;
    } else if (row.key === 'building') {
      const parsed = buildingSchema.safeParse(json);
      if (parsed.success) state.building = parsed.data;
    }
  }
  return state;
}

/**
 * Opens a table, or undefined when it does not exist. Opening is the test, not `tableNames()`: listing
 * a prefix is not reliable on every S3-compatible store (s3rver lists nothing), opening is.
 */
export async function openTableIfExists(lance: LanceDb, name: string): Promise<lancedb.Table | undefined> {
  try {
    return await lance.db.openTable(name);
  } catch (e) {
    if (/was not found|not found:.*_versions/i.test(e instanceof Error ? e.message : String(e)))
      return undefined;
    throw e;
  }
}

/** Replaces the control table in one commit (the publish step of every build). */
export async function writeControl(lance: LanceDb, state: ControlState): Promise<void> {
  const rows: { key: string; json: string }[] = [];
  if (state.published) rows.push({ key: 'published', json: JSON.stringify(state.published) });
  if (state.building) rows.push({ key: 'building', json: JSON.stringify(state.building) });
  // An empty overwrite cannot infer a schema: a placeholder row keeps the table well-formed.
  if (rows.length === 0)
    rows.push({
      // Stryker disable next-line StringLiteral: readControl ignores every key but published and building
      key: 'none',
      json: '{}',
    });
  try {
    const table = await lance.db.createTable(CONTROL_TABLE, rows, { mode: 'overwrite' });
    table.close();
  } catch (e) {
    throw storeError(lance.location, lance.variables, lance.secrets, e, 'write to');
  }
}

export function damaged(location: IndexLocation, why: string): ImageSearchError {
  return new ImageSearchError(
    'index_invalid',
    `The LanceDB index at ${location.uri} is damaged (${why}). Rebuild it with \`npx imagesearch index … --engine lancedb --out ${location.uri}\`.`,
  );
}

/**
 * An error from the store, worded for a person: what failed, at which URI, and which variables to
 * check — never their values. The native message is kept as the cause with every secret blanked.
 */
export function storeError(
  location: IndexLocation,
  variables: readonly string[],
  secrets: readonly string[],
  e: unknown,
  action: string,
): ImageSearchError {
  if (e instanceof ImageSearchError) return e;
  const raw = withoutSecrets(e instanceof Error ? e.message : String(e), secrets);
  const cause = new Error(raw);
  if (location.kind === 'local') {
    return new ImageSearchError(
      'index_invalid',
      `Could not ${action} the LanceDB index in ${location.dir}.`,
      {
        cause,
        detail: raw.slice(0, 300),
      },
    );
  }
  const reason = /NoSuchBucket|bucket.*(not exist|not found)/i.test(raw)
    ? 'the bucket does not exist'
    : /InvalidAccessKeyId|SignatureDoesNotMatch|AccessDenied|Forbidden|\b403\b|credential/i.test(raw)
      ? 'the store refused the credentials'
      : /http:.*(not allowed|scheme)|allow_http|AWS_ALLOW_HTTP|builder error/i.test(raw)
        ? 'plain http is not allowed'
        : /connect|refused|dns|resolve|timed? ?out|unreachable|error sending request/i.test(raw)
          ? 'the storage endpoint cannot be reached'
          : 'the store returned an error';
  return new ImageSearchError(
    'config_invalid',
    `Could not ${action} the index at ${location.uri}: ${reason}. Check ${variables.join(', ')}.`,
    { cause },
  );
}
