// A partner facility's subgraph, written with @apollo/subgraph: its publication list
// points at our sessions by DOI (a reference it cannot resolve itself) and adds the
// publications to our people, found by ORCID iD.
// argv: <port> <publications.json>   (a list of {title, journal, sessionDoi, authorOrcids})
// Prints "listening <url>" once it serves on 127.0.0.1.
import { readFileSync } from 'node:fs';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';

export const typeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

  type Query {
    "The partner's publication list."
    partnerPublications: [PartnerPublication!]!
  }

  "A paper in the partner's index, citing data taken at the facility."
  type PartnerPublication {
    title: String!
    journal: String!
    "The experiment session the paper's data came from (the facility's, by DOI)."
    session: Investigation
    authors: [User!]!
  }

  # The facility's session, referenced by its DOI; the facility's subgraph resolves it.
  type Investigation @key(fields: "doi", resolvable: false) {
    doi: String
  }

  # The facility's person, by ORCID iD, with the partner's publications added.
  type User @key(fields: "orcidId") {
    orcidId: String
    # Nullable: a person without an ORCID iD has no key here (Hive Gateway does not ask
    # for them at all; @apollo/gateway sends a null iD).
    partnerPublications: [PartnerPublication!]
  }
`);

const [port, file] = process.argv.slice(2);
const publications = JSON.parse(readFileSync(file, 'utf8'));
const asPublication = (p) => ({ ...p, session: p.sessionDoi ? { doi: p.sessionDoi } : null });

const resolvers = {
  Query: { partnerPublications: () => publications.map(asPublication) },
  PartnerPublication: { authors: (p) => p.authorOrcids.map((orcidId) => ({ orcidId })) },
  User: {
    __resolveReference: (user) => ({ orcidId: user.orcidId }),
    partnerPublications: (user) =>
      publications.filter((p) => p.authorOrcids.includes(user.orcidId)).map(asPublication),
  },
};

const server = new ApolloServer({ schema: buildSubgraphSchema([{ typeDefs, resolvers }]) });
const { url } = await startStandaloneServer(server, { listen: { host: '127.0.0.1', port: Number(port) } });
console.log(`listening ${url}`);
