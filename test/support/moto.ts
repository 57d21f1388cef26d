/** The harness lives in `functions/local` (the local runner uses it too). */
export * from '../../functions/local/moto.js';
