#!/usr/bin/env node
// cocoonctl: placeholder until the CLI issue lands.
console.error('cocoonctl: not implemented yet');
process.exit(2);
