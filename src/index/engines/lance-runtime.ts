import type * as LanceDbModule from '@lancedb/lancedb';

let loaded: Promise<typeof LanceDbModule> | undefined;

/**
 * LanceDB, loaded on first use: processes that serve a flat or int8 index never load its native
 * library. Its Rust logger reads LANCEDB_LOG once at load and defaults to warnings, which prints
 * k-means chatter ("more than 10% of clusters are empty") on stderr during every index build; keep
 * it to errors unless the operator asked for more.
 */
export function loadLance(): Promise<typeof LanceDbModule> {
  process.env.LANCEDB_LOG ??= 'error';
  loaded ??= import('@lancedb/lancedb');
  return loaded;
}
