/** The web chat's registry entry: on unless WEB_CHAT=0; it needs no credentials, so no doctor check. */
import type { Platform } from '../kit/platform.ts';
import { createWebAdapter } from './web-adapter.ts';

export const webPlatform: Platform = {
  name: 'web',
  configure: (config) =>
    config.webChat
      ? (deps) =>
          createWebAdapter({ ...deps, proxyTrust: config.proxyTrust, shareImages: deps.replicated === true })
      : undefined,
};
