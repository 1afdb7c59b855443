// Preloaded (node --require) into the huge case's own Azurite, so that it serves a million blobs
// at the cost of a few, not of all of them. Three changes, none to what any request answers:
//
// 1. No blob garbage collection. Every ten minutes it pages through every blob, each page a scan
//    and sort of the whole collection (LokiBlobMetadataStore.listAllBlobs): at a few hundred
//    thousand blobs it held the service for over ten minutes, answering no request. The case
//    deletes nothing worth collecting.
// 2. Lookups by name use the name index. Azurite finds a blob with a query object whose first key
//    is accountName ({accountName, containerName, name, snapshot}); LokiJS answers a query of
//    several keys by narrowing with the first one's index and filtering the rest, so every upload,
//    read and delete scanned every blob of the account: a PUT took time in proportion to the blobs
//    already stored. The same conditions, the most selective key first (blobName, else name, when it
//    is a plain value), select the same documents.
// 3. Deletes keep the indices. Azurite deletes a blob with findAndRemove, which LokiJS carries out
//    as a batch removal that flags every binary index of the collection dirty, so the next lookup
//    re-sorts all blobs to rebuild it: at a million blobs each delete cost about half a second, and
//    the settle's sweep of a million-object run's 998 spooled batches ran for over 15 minutes. A
//    removal of a few documents goes through LokiJS's single-document remove instead, which updates
//    the indices in place: the same documents removed, the same events.
const path = require("path");
const modules = path.join(__dirname, "..", "node_modules");
const gc = require(path.join(modules, "azurite", "dist", "src", "blob", "gc", "BlobGCManager.js"));
gc.default.prototype.markSweep = async function markSweep() {};

const Loki = require(path.join(modules, "lokijs"));
const find = Loki.Resultset.prototype.find;
const plain = (v) => v === null || typeof v !== "object" || v instanceof Date;
Loki.Resultset.prototype.find = function (query, firstOnly) {
  if (query && typeof query === "object" && !Array.isArray(query)) {
    const first = ["blobName", "name"].find((k) => Object.prototype.hasOwnProperty.call(query, k) && plain(query[k]));
    if (first && Object.keys(query).length > 1 && Object.keys(query)[0] !== first) {
      query = Object.assign({ [first]: query[first] }, query);
    }
  }
  return find.call(this, query, firstOnly);
};
const remove = Loki.Resultset.prototype.remove;
Loki.Resultset.prototype.remove = function () {
  const rows = this.filteredrows, coll = this.collection;
  if (this.filterInitialized && rows.length > 0 && rows.length <= 16 && coll.adaptiveBinaryIndices) {
    rows.map((position) => coll.data[position]).forEach((doc) => coll.remove(doc));
    this.filteredrows = [];
    return this;
  }
  return remove.call(this);
};
console.log("bench/azurite_at_scale.js: Azurite's blob garbage collection is off; lookups by name use its index; " +
            "deletes keep its indices");
