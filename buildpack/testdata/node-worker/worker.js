const { Worker } = require("bullmq");
new Worker("jobs", async (job) => console.log(job.name));
