// The pooler's side towards Postgres comes from pg-protocol; its deep CJS modules load the same under node and ts-node.
export { serialize } from 'pg-protocol/dist/serializer';
export { Parser } from 'pg-protocol/dist/parser';
export type { BackendMessage } from 'pg-protocol/dist/messages';
