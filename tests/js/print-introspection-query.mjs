// Prints graphql-js's standard introspection query with every option on; its output is checked
// in as tests/fixtures/introspection.graphql (tests/api/graphql_protocol.rs checks that they agree).
//   node tests/js/print-introspection-query.mjs > tests/fixtures/introspection.graphql
import { getIntrospectionQuery } from 'graphql';

process.stdout.write(
  getIntrospectionQuery({
    descriptions: true,
    specifiedByUrl: true,
    directiveIsRepeatable: true,
    schemaDescription: true,
    inputValueDeprecation: true,
    oneOf: true,
  }),
);
