/**
 * Links shown to people. Index entries come from manifests (the operator's, or a dataset's), so a
 * `page_url` may hold any scheme: `javascript:` runs in the web chat when clicked, `file:` and app
 * schemes open things on the reader's machine. Only absolute http(s) URLs are ever rendered.
 */

/** `value` as a normalised http(s) URL, or undefined for anything else (other schemes, relative, junk). */
export function httpLink(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    const url = new URL(value.trim());
    // The serialised form: spaces, quotes and angle brackets come out percent-encoded, so the link
    // cannot break out of the markup (Slack mrkdwn, HTML attributes) it is put in.
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/** The first of `candidates` that is an http(s) link. */
export function firstHttpLink(...candidates: (string | undefined)[]): string | undefined {
  for (const c of candidates) {
    const link = httpLink(c);
    if (link) return link;
  }
  return undefined;
}
