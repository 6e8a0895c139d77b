#!/usr/bin/env node
// The `fleetml` executable (dist/bin/fleetml.js, the path the systemd unit and the install script use): the program
// itself is cli/main.ts.
import { main } from '../cli/main.js';

await main(process.argv);
