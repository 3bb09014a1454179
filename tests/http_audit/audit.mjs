// The GraphQL-over-HTTP audit of graphql-http against a running server, as JSON lines:
// one {"id", "name", "status": "ok" | "warn" | "error", "reason"} per audit.
// Usage: node audit.mjs http://127.0.0.1:8000/graphql
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs <url of the GraphQL endpoint>');
  process.exit(2);
}
const results = await auditServer({ url, fetchFn: fetch });
for (const result of results) {
  const { id, name, status } = result;
  const reason = status === 'ok' ? undefined : result.reason;
  console.log(JSON.stringify({ id, name, status, reason }));
}
