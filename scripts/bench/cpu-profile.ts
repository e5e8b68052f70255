/**
 * Summarises V8 .cpuprofile files (node --cpu-prof): self time per function, top N, and the share
 * of time by area (our code, grpc-js/http2, protobuf, pg, node internals, GC, idle).
 *
 * Also runnable on its own: `node --import tsx scripts/bench/cpu-profile.ts <file-or-dir> [top]`.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** One function's self time. */
export interface Frame {
  name: string;
  where: string;
  selfMs: number;
  share: number;
}

/** Reads a profile and returns its top frames by self time plus time by area. */
export function summarizeProfile(file: string, top = 20): { totalMs: number; frames: Frame[]; areas: [string, number][] } {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0));
  }
  const byFunction = new Map<string, { name: string; where: string; us: number }>();
  const byArea = new Map<string, number>();
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    const name = frame.functionName || "(anonymous)";
    const where = shortUrl(frame.url, frame.lineNumber);
    const key = `${name}@${where}`;
    const entry = byFunction.get(key) ?? { name, where, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
    const area = areaOf(name, frame.url);
    byArea.set(area, (byArea.get(area) ?? 0) + us);
    totalUs += us;
  }
  const frames = [...byFunction.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((entry) => ({ name: entry.name, where: entry.where, selfMs: entry.us / 1000, share: entry.us / totalUs }));
  const areas = [...byArea].sort((a, b) => b[1] - a[1]).map(([area, us]) => [area, us / totalUs] as [string, number]);
  return { totalMs: totalUs / 1000, frames, areas };
}

/** .cpuprofile files under `target` (a file, or a directory searched recursively). */
function profileFiles(target: string): string[] {
  if (!statSync(target).isDirectory()) return [target];
  return readdirSync(target)
    .sort()
    .flatMap((entry) => {
      const full = path.join(target, entry);
      return statSync(full).isDirectory() ? profileFiles(full) : entry.endsWith(".cpuprofile") ? [full] : [];
    });
}

function shortUrl(url: string, line: number): string {
  if (!url) return "(native)";
  const clean = url.replace(/^file:\/\//, "");
  const nodeModules = clean.lastIndexOf("node_modules/");
  const short = nodeModules >= 0 ? clean.slice(nodeModules + "node_modules/".length) : clean.includes("/work/") ? clean.slice(clean.indexOf("/", clean.indexOf("/work/") + 6) + 1) : clean;
  return `${short}:${line + 1}`;
}

function areaOf(name: string, url: string): string {
  if (name === "(idle)") return "idle";
  if (name === "(garbage collector)") return "GC";
  if (name === "(program)") return "V8/native (program)";
  if (url.includes("@grpc/grpc-js")) return "grpc-js";
  if (url.includes("nice-grpc")) return "nice-grpc";
  if (url.includes("@bufbuild/protobuf")) return "protobuf-es";
  if (url.includes("node_modules/pg") || url.includes("pg-protocol") || url.includes("pg-pool")) return "pg driver";
  if (url.includes("pino")) return "pino";
  if (url.includes("/src/") || url.includes("/gen/")) return "coordinator code";
  if (url.startsWith("node:") || !url) return "node internals / native";
  return "other";
}

/** Prints a summary of every .cpuprofile in `target` (a file or a directory). */
export function printProfiles(target: string, top = 20): string {
  const files = profileFiles(target);
  const lines: string[] = [];
  for (const file of files) {
    const { totalMs, frames, areas } = summarizeProfile(file, top);
    // The tsx loader thread writes a profile too; it idles all the time.
    const idle = areas.find(([area]) => area === "idle")?.[1] ?? 0;
    if (idle > 0.9) continue;
    lines.push(`profile ${file} (${(totalMs / 1000).toFixed(1)} s sampled)`);
    lines.push(`  by area: ${areas.map(([area, share]) => `${area} ${(share * 100).toFixed(1)}%`).join(", ")}`);
    for (const frame of frames) {
      lines.push(`  ${(frame.share * 100).toFixed(1).padStart(5)}%  ${frame.selfMs.toFixed(0).padStart(7)} ms  ${frame.name}  ${frame.where}`);
    }
  }
  return lines.join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const target = process.argv[2];
  if (!target) {
    console.error("usage: node --import tsx scripts/bench/cpu-profile.ts <file.cpuprofile | dir> [top]");
    process.exit(2);
  }
  console.log(printProfiles(target, Number(process.argv[3] ?? 20)));
}
