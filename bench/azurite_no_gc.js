// Preloaded (node --require) into the huge case's own Azurite. Its blob garbage collector runs every
// ten minutes and pages through every blob, each page a scan and sort of the whole collection
// (LokiBlobMetadataStore.listAllBlobs): at a few hundred thousand blobs it held the service for
// over ten minutes, answering no request. The case deletes nothing worth collecting.
const path = require("path");
const gc = require(path.join(__dirname, "..", "node_modules", "azurite", "dist", "src", "blob", "gc",
                             "BlobGCManager.js"));
gc.default.prototype.markSweep = async function markSweep() {};
console.log("bench/azurite_no_gc.js: Azurite's blob garbage collection is off");
