/** The stand-in lives in `functions/local` (the local runner's demo uses it too). */
export * from '../../functions/local/github-app-server.js';
