/**
 * The web chat's registry entry. On by default only when the bot listens on loopback (WEB_CHAT
 * decides otherwise, see src/util/config.ts); it needs no credentials, so no doctor check.
 */
import { isLoopbackHost } from '../../src/util/addresses.ts';
import type { PlatformEntry } from '../kit/platform.ts';
import { createWebAdapter } from './web-adapter.ts';

export const webPlatform: PlatformEntry = {
  name: 'web',
  configure: (config, logger) => {
    if (config.webChat)
      return (deps) =>
        createWebAdapter({
          ...deps,
          publicUrl: config.publicUrl,
          proxyTrust: config.proxyTrust,
          shareImages: deps.replicated === true,
        });
    logger.info(
      { host: config.host },
      isLoopbackHost(config.host)
        ? 'web chat is off (WEB_CHAT=0)'
        : 'web chat is off: it has no accounts, so beyond loopback it is served only when asked for — set WEB_CHAT=1 (see docs/security.md)',
    );
    return undefined;
  },
};
