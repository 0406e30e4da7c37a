#!/usr/bin/env node
// The CLI is compiled to dist/ (npm run build) so that start-up stays fast.
import "../dist/src/cli.js";
