// The worker process type: corral runs it with `npm run worker`, because
// package.json has a script of that name.
"use strict";
let n = 0;
const timer = setInterval(() => console.log(`worker: tick ${++n}`), 5000);
console.log("worker: started");
process.on("SIGTERM", () => {
  clearInterval(timer);
  console.log("worker: stopping");
});
