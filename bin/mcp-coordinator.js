#!/usr/bin/env node
// The `mcp-coordinator` command. The project runs its TypeScript sources through tsx (no build
// step), so this entry point registers the loader and hands over to the CLI.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
