// Test instrumentation for Azurite's queue garbage collector, loaded with
// NODE_OPTIONS="--require <this file>" into an Azurite the test starts itself.
//
// - The collector's 60 s sleep between passes waits for SIGUSR2 instead, so a test
//   runs exactly one pass over exactly the extents it created, when it chooses.
// - Each pass appends one JSON line to $AZURITE_GC_REPORT when it starts and one
//   when it ends: {"event": "end", "extents": <unreferenced extents swept>, "ms": <duration>}.
// Nothing else in Azurite changes.
"use strict";
const fs = require("fs");
const path = require("path");

// process.argv[1] is Azurite's own script, node_modules/azurite/dist/src/azurite.js.
const gcModule = path.join(path.dirname(process.argv[1]), "queue", "gc", "QueueGCManager.js");
const QueueGCManager = require(gcModule).default;
const reportPath = process.env.AZURITE_GC_REPORT;

function report(line) {
  fs.appendFileSync(reportPath, JSON.stringify(line) + "\n");
}

let wakeRequested = false;
let wakeSleeper = null;
// A listener also keeps SIGUSR2 from terminating the process (Node's default).
process.on("SIGUSR2", () => {
  if (wakeSleeper !== null) {
    wakeSleeper();
  } else {
    wakeRequested = true;
  }
});

QueueGCManager.prototype.sleep = function () {
  return new Promise((resolve) => {
    const wake = () => {
      wakeSleeper = null;
      this.emitter.removeListener("abort", wake);
      resolve();
    };
    if (wakeRequested) {
      wakeRequested = false;
      resolve();
      return;
    }
    wakeSleeper = wake;
    this.emitter.on("abort", wake); // close() still ends the loop
  });
};

const markSweep = QueueGCManager.prototype.markSweep;
QueueGCManager.prototype.markSweep = async function () {
  const store = this.extentStore;
  const deleteExtents = store.deleteExtents;
  let swept = 0;
  store.deleteExtents = function (extents) {
    swept = extents.size;
    return deleteExtents.call(store, extents);
  };
  report({ event: "start" });
  const started = process.hrtime.bigint();
  try {
    await markSweep.call(this);
  } finally {
    store.deleteExtents = deleteExtents;
  }
  report({ event: "end", extents: swept, ms: Number(process.hrtime.bigint() - started) / 1e6 });
};
