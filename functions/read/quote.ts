/** Caller-supplied text in a message. Pure. */

/** Quote a caller-supplied string in a message: bounded length, control characters escaped. */
export function quote(text: string, max = 80): string {
  const shown = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(shown);
}
