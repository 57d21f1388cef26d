/**
 * The floor of any `fetch`-based client: one unsigned `fetch` on loopback. Node loads its HTTP
 * client (undici) on the first call, so this is the empty process plus that load and one round trip.
 */
const url = process.env.BENCH_FETCH_URL ?? '';

export async function handler(): Promise<string> {
  const response = await fetch(url);
  await response.text();
  return '';
}
