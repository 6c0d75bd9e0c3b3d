// farad with maxBatch 1: one call into JS per request (docs/boundary.md).
process.env.FARAD_MAX_BATCH = "1";
await import("./farad.js");
