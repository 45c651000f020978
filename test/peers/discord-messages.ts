/**
 * What Discord refuses in a message body (create, edit, webhook/interaction follow-ups and
 * callback data), for the local Discord peer, with Discord's error bodies.
 *
 * Limits from discord-api-docs (resources/message.mdx "Create Message", interactions/message-components
 * .mdx): content ≤ 2000 characters; a message needs at least one of content, embeds, sticker_ids,
 * components, files or poll; ≤ 5 action rows of 1–5 buttons; button label ≤ 80, custom_id ≤ 100 and
 * unique within the message, required except for link buttons.
 *
 * Error bodies: 50006 "Cannot send an empty message" (JSON error codes table), and 50035 "Invalid
 * Form Body" with the nested `errors` object of test/fixtures/discord/rest_error_invalid_form_body_*.json.
 * Messages seen in real answers: "Must be 2000 or fewer in length." (Rapptz/discord.py#10201),
 * "Must be 80 or fewer in length." for a label (FuseFairy/DiscordBot-EdgeGPT#153), "Must be between
 * 1 and 5 in length." (BASE_TYPE_BAD_LENGTH) for a row's buttons (TFNS/CTFNote#408). The custom_id
 * and row-count messages follow the same BASE_TYPE_MAX_LENGTH pattern; COMPONENT_CUSTOM_ID_DUPLICATED
 * is the code Discord uses for repeated ids.
 */

/** A refusal: HTTP status and Discord's JSON body. */
export interface DiscordRefusal {
  status: number;
  body: { code: number; message: string; errors?: Record<string, unknown> };
}

type Json = Record<string, unknown>;

const maxLength = (n: number) => ({
  code: 'BASE_TYPE_MAX_LENGTH',
  message: `Must be ${n} or fewer in length.`,
});

/** Sets `_errors` at a nested path in Discord's error tree (`components.0.components.1.label`). */
function put(tree: Json, path: string[], error: { code: string; message: string }): void {
  let node = tree;
  for (const key of path) {
    node[key] ??= {};
    node = node[key] as Json;
  }
  node._errors ??= [];
  (node._errors as unknown[]).push(error);
}

/**
 * The refusal for a message body, or undefined if Discord would take it. `fileCount` is the number
 * of files uploaded with it; `existing` is the message an edit applies to (what it keeps).
 */
export function messageRefusal(
  body: unknown,
  fileCount: number,
  existing?: { content?: string; attachments?: unknown[]; components?: unknown[]; embeds?: unknown[] },
): DiscordRefusal | undefined {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Json;
  const errors: Json = {};
  if (typeof b.content === 'string' && b.content.length > 2000) put(errors, ['content'], maxLength(2000));
  if (b.components !== undefined) componentErrors(b.components, errors);
  if (Object.keys(errors).length > 0)
    return { status: 400, body: { code: 50035, message: 'Invalid Form Body', errors } };

  // What the message would hold afterwards: an edit keeps what it does not mention.
  const content = typeof b.content === 'string' ? b.content : (existing?.content ?? '');
  const list = (v: unknown, kept: unknown[] | undefined) => (Array.isArray(v) ? v : (kept ?? []));
  const attachments = fileCount + list(b.attachments, existing?.attachments).length;
  const components = list(b.components, existing?.components).length;
  const embeds = list(b.embeds, existing?.embeds).length;
  const stickers = Array.isArray(b.sticker_ids) ? b.sticker_ids.length : 0;
  if (
    content.trim() === '' &&
    attachments === 0 &&
    components === 0 &&
    embeds === 0 &&
    stickers === 0 &&
    !b.poll
  )
    return { status: 400, body: { code: 50006, message: 'Cannot send an empty message' } };
  return undefined;
}

function componentErrors(components: unknown, errors: Json): void {
  if (!Array.isArray(components)) {
    put(errors, ['components'], { code: 'BASE_TYPE_ARRAY_TYPE', message: 'Must be an array.' });
    return;
  }
  if (components.length > 5) put(errors, ['components'], maxLength(5));
  const seen = new Set<string>();
  components.forEach((row: unknown, i) => {
    const r = (row ?? {}) as Json;
    const buttons = Array.isArray(r.components) ? r.components : [];
    if (r.type !== 1 || buttons.length < 1 || buttons.length > 5)
      put(errors, ['components', String(i), 'components'], {
        code: 'BASE_TYPE_BAD_LENGTH',
        message: 'Must be between 1 and 5 in length.',
      });
    buttons.forEach((button: unknown, j) => {
      const c = (button ?? {}) as Json;
      const at = ['components', String(i), 'components', String(j)];
      if (c.type !== 2) return;
      if (typeof c.label === 'string' && c.label.length > 80) put(errors, [...at, 'label'], maxLength(80));
      const link = c.style === 5;
      if (!link && (typeof c.custom_id !== 'string' || c.custom_id.length === 0))
        put(errors, [...at, 'custom_id'], { code: 'BASE_TYPE_REQUIRED', message: 'This field is required' });
      if (typeof c.custom_id === 'string') {
        if (c.custom_id.length > 100) put(errors, [...at, 'custom_id'], maxLength(100));
        if (seen.has(c.custom_id))
          put(errors, [...at, 'custom_id'], {
            code: 'COMPONENT_CUSTOM_ID_DUPLICATED',
            message: 'Component custom id cannot be duplicated',
          });
        seen.add(c.custom_id);
      }
    });
  });
}
