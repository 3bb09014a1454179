// Hive Gateway's configuration (`hive-gateway supergraph supergraph.graphql -c this file`):
// forward the caller's Authorization header to every subgraph (README.md, for partners).
import { defineConfig } from '@graphql-hive/gateway';

export const gatewayConfig = defineConfig({
  propagateHeaders: {
    fromClientToSubgraphs({ request }) {
      const authorization = request.headers.get('authorization');
      return authorization ? { authorization } : {};
    },
  },
});
