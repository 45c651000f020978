/**
 * What each chat platform gives the composition root: one registry entry. `serve` loops over the
 * entries to start every configured adapter, `doctor` to check every platform's credentials.
 * Adding a platform = a folder under adapters/ with its adapter and one of these.
 */
import type { Adapter, AdapterDeps } from '../../src/core/adapter.ts';
import type { Logger } from '../../src/core/logger.ts';
import type { Config } from '../../src/util/config.ts';

/** `ok` passed, `fail` broken, `warn` works with a caveat, `off` not configured (optional part). */
export type CheckStatus = 'ok' | 'fail' | 'warn' | 'off';

/** What one check found. `fix` names the exact variable to set or command to run. */
export interface CheckResult {
  status: CheckStatus;
  detail: string;
  fix?: string;
}

/** One named doctor check. A `fail` makes doctor exit 1. */
export interface DoctorCheck {
  name: string;
  run(): Promise<CheckResult>;
}

/** One chat platform as the composition root sees it. */
export interface PlatformEntry {
  readonly name: 'web' | 'slack' | 'discord';
  /**
   * The adapter factory when `config` turns this platform on, else undefined. A half-done
   * configuration (a token without its secret) is logged as a warning here.
   */
  configure(config: Config, logger: Logger): ((deps: AdapterDeps) => Adapter) | undefined;
  /** The platform's doctor check (tokens, reachability), when it has one. */
  doctor?(config: Config): DoctorCheck;
}
