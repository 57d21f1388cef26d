/** The floor: a consumer that loads nothing and asks nothing (Node's own start-up). */
export async function handler(): Promise<string> {
  return '';
}
