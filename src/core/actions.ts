import type { ReplyAction, SearchAction } from './types.ts';

/**
 * Button ids, shared by every adapter: `is:open:2`, `is:more:3`, `is:reroll`, `is:restart`.
 * Short (Discord custom_id ≤ 100 chars, Slack action_id ≤ 255) and prefixed so foreign ids are ignored.
 * "4 more" is the `next` action; its id stays `is:reroll`, so buttons on messages posted before the
 * rename keep working.
 */
const PREFIX = 'is:';

export function encodeAction(action: SearchAction): string {
  switch (action.type) {
    case 'open':
      return `${PREFIX}open:${action.n}`;
    case 'more-like':
      return `${PREFIX}more:${action.n}`;
    case 'next':
      return `${PREFIX}reroll`;
    case 'start-over':
      return `${PREFIX}restart`;
  }
}

export function decodeAction(id: string): SearchAction | undefined {
  if (!id.startsWith(PREFIX)) return undefined;
  const [verb, arg] = id.slice(PREFIX.length).split(':');
  const n = Number(arg);
  const validN = Number.isInteger(n) && n >= 1 && n <= 10;
  switch (verb) {
    case 'open':
      return validN ? { type: 'open', n } : undefined;
    case 'more':
      return validN ? { type: 'more-like', n } : undefined;
    case 'reroll':
      return { type: 'next' };
    case 'restart':
      return { type: 'start-over' };
    default:
      return undefined;
  }
}

/** The standard button set offered under a grid of `count` results. */
export function resultActions(count: number): ReplyAction[] {
  const actions: ReplyAction[] = [];
  for (let n = 1; n <= count; n++) {
    const action: SearchAction = { type: 'open', n };
    actions.push({ id: encodeAction(action), label: `Open ${n}`, action });
  }
  for (let n = 1; n <= count; n++) {
    const action: SearchAction = { type: 'more-like', n };
    actions.push({ id: encodeAction(action), label: `More like ${n}`, action });
  }
  const next: SearchAction = { type: 'next' };
  actions.push({ id: encodeAction(next), label: '4 more', action: next, style: 'primary' });
  const restart: SearchAction = { type: 'start-over' };
  actions.push({ id: encodeAction(restart), label: 'Start over', action: restart });
  return actions;
}
