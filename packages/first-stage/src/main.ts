#!/usr/bin/env node
// cocoon-agent: placeholder until the first-stage issue lands.
console.error('cocoon-agent: not implemented yet');
process.exit(2);
