// A plain node:http server: corral runs it with `npm start` (the start
// script of package.json) on the PORT it gives each web instance.
"use strict";
const http = require("node:http");

const port = Number(process.env.PORT || 5000);
const name = process.env.PS || "web";

const server = http.createServer((req, res) => {
  console.log(`${req.method} ${req.url}`);
  if (req.url === "/whoami") {
    res.setHeader("Content-Type", "application/json");
    res.end(JSON.stringify({ ps: name, port, forwardedFor: req.headers["x-forwarded-for"] || null }) + "\n");
    return;
  }
  res.setHeader("Content-Type", "text/html; charset=utf-8");
  res.end(`<!doctype html><title>corral + Node</title><h1>Node, run by corral</h1><p>Served by ${name} (PORT ${port}), with no Procfile.</p>\n`);
});

// HOST is 127.0.0.1 behind corral's edge; unset (every address) elsewhere.
server.listen(port, process.env.HOST, () => console.log(`listening on port ${port}`));

// corral sends SIGTERM to stop: finish the requests in flight, then exit.
process.on("SIGTERM", () => {
  console.log("shutting down");
  server.close(() => process.exit(0));
});
