/**
 * A child process holding one StreamInteractions stream with heartbeats, for the frozen-client
 * test (the test SIGSTOPs this process). Arguments: address token heartbeatMs.
 */
import type { Heartbeat } from "../../gen/coordinator/v1/stream_frames_pb.js";
import { openRawStream } from "./stream-client.js";

const [address, token, heartbeatMs] = process.argv.slice(2) as [string, string, string];
const stream = openRawStream(address, token);
stream.send({ frame: { case: "hello", value: { instanceId: `frozen-${process.pid}` } } });
void stream.waitFor((f) => f.frame.case === "welcome", 30_000).then((welcome) => {
  process.stdout.write(`welcomed ${welcome.frame.case === "welcome" ? welcome.frame.value.streamId : ""}\n`);
  setInterval(() => stream.send({ frame: { case: "heartbeat", value: {} satisfies Partial<Heartbeat> } }), Number(heartbeatMs) / 2);
});
void stream.ended.then((end) => {
  process.stdout.write(`ended ${end.code}\n`);
  process.exit(0);
});
