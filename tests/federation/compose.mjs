// Compose subgraphs into a supergraph, as a partner's tooling would.
// stdin: {"composer": "apollo" | "hive", "subgraphs": [{"name", "url", "sdl"}]}
// stdout: {"errors": [..], "hints": [..], "supergraphSdl": "..." | null}
import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { composeServices as composeApollo } from '@apollo/composition';
import { composeServices as composeHive } from '@theguild/federation-composition';

const request = JSON.parse(readFileSync(0, 'utf8'));
const services = request.subgraphs.map(({ name, url, sdl }) => ({ name, url, typeDefs: parse(sdl) }));
let answer;
if (request.composer === 'apollo') {
  const result = composeApollo(services);
  answer = {
    errors: (result.errors ?? []).map((error) => error.message),
    hints: (result.hints ?? []).map((hint) => hint.toString()),
    supergraphSdl: result.errors ? null : result.supergraphSdl,
  };
} else if (request.composer === 'hive') {
  const result = composeHive(services);
  answer = {
    errors: (result.errors ?? []).map((error) => error.message),
    hints: [],
    supergraphSdl: result.errors ? null : result.supergraphSdl,
  };
} else {
  throw new Error(`unknown composer ${request.composer}`);
}
process.stdout.write(JSON.stringify(answer));
