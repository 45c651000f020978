/** Every chat platform the bot knows, in the order serve starts them and doctor checks them. */
import { discordPlatform } from '../discord/platform.ts';
import type { PlatformEntry } from '../kit/platform.ts';
import { slackPlatform } from '../slack/platform.ts';
import { webPlatform } from '../web/platform.ts';

export const PLATFORMS: readonly PlatformEntry[] = [webPlatform, slackPlatform, discordPlatform];
