"""S3 behind the ObjectStore contract: paged listing, ranged streaming reads, multipart
uploads with bounded memory, conditional create, batched deletes, server-side copy."""

from __future__ import annotations

import re
from typing import BinaryIO, Iterable, Iterator, Mapping

from botocore.exceptions import BotoCoreError, ClientError

from multicloud.clouds.aws.backend import BACKEND
from multicloud.clouds.aws.errors import map_error
from multicloud.clouds.aws.listing import list_objects, md5_of
from multicloud.clouds.aws.rawhttp import RawBody, RawS3, head_fields, map_raw_error
from multicloud.clouds.aws.session import client
from multicloud.clouds.common import PART_SIZE, BoundedReader, retried, upload_parts
from multicloud.config import Connection
from multicloud.core.errors import AlreadyExists, InvalidInput, NotFound, PreconditionFailed
from multicloud.core.objects import (
    DEFAULT_CONTENT_TYPE, SHA256_METADATA_KEY, HashingReader, ObjectMeta, StoreUrl, check_key,
    check_stream, user_metadata,
)

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_COPY_LIMIT = 5 * 1024**3  # CopyObject's single-request limit; larger copies go multipart
_DELETE_BATCH = 1000


def check_bucket_name(name: str) -> str:
    """Refuse a bucket name S3 would refuse (InvalidInput names it)."""
    if not _BUCKET_RE.match(name) or ".." in name or re.match(r"^\d+\.\d+\.\d+\.\d+$", name):
        raise InvalidInput("S3 bucket names are 3-63 lowercase letters, digits, dots and dashes", target=name)
    return name


class S3Store:
    """One S3 bucket and root prefix."""

    capabilities = BACKEND.capabilities

    def __init__(self, url: StoreUrl, conn: Connection):
        """Raises InvalidInput for a bucket name S3 would refuse (no request is made)."""
        self.url = str(url)
        self._bucket = check_bucket_name(url.bucket)
        self._root = url.prefix
        self._s3 = client(conn, "s3")
        self._raw = RawS3(conn, self._s3, self._bucket)
        self._page = min(conn.list_page_size or 1000, 1000)

    def _target(self, key: str = "") -> str:
        return f"{self.url}{key}"

    def _call(self, fn, key: str = ""):
        target = self._target(key)
        return retried(fn, lambda exc: map_error(exc, target))

    def _full(self, key: str) -> str:
        return self._root + check_key(key, self.url)

    def list(self, prefix: str = "") -> Iterator[ObjectMeta]:
        """Objects under `prefix` in key order, one request per page of up to 1,000, made as the
        listing is consumed (raw pages: see listing.py). Raises NotFound for a missing bucket."""
        return list_objects(self._s3, self._bucket, self._root + prefix, self._page, len(self._root), self._call)

    def signed_url(self, key: str, expires_seconds: int) -> str:
        """A GET URL of `key` that opens without credentials for `expires_seconds` (SigV4 presign:
        at most 7 days, and never longer than the signing credentials live). No request is made."""
        return self._s3.generate_presigned_url("get_object", Params={"Bucket": self._bucket, "Key": self._full(key)},
                                               ExpiresIn=expires_seconds)

    def stat(self, key: str) -> ObjectMeta:
        """Full description, user metadata included. Raises NotFound, InvalidInput for a bad key."""
        full = self._full(key)
        head = self._call(lambda: self._s3.head_object(Bucket=self._bucket, Key=full), key)
        return self._meta(key, head)

    @staticmethod
    def _meta(key: str, head: dict) -> ObjectMeta:
        etag = head.get("ETag", "").strip('"')
        metadata = dict(head.get("Metadata") or {})
        hashes = md5_of(etag)
        if metadata.get(SHA256_METADATA_KEY):
            hashes["sha256"] = metadata[SHA256_METADATA_KEY]
        return ObjectMeta(
            key=key, size=head.get("ContentLength", 0), last_modified=head.get("LastModified"), etag=etag,
            content_type=head.get("ContentType"), cache_control=head.get("CacheControl"), metadata=metadata,
            hashes=hashes,
        )

    def open(self, key: str, start: int | None = None, end: int | None = None) -> BinaryIO:
        """A streaming reader over bytes [start, end). Raises NotFound, InvalidInput for a bad key;
        Transient if the body breaks off while read."""
        full = self._full(key)
        first = start or 0
        if end is not None and end <= first:
            self.stat(key)  # still say NotFound for a missing key
            return BoundedReader(iter(()))
        # Whole or ranged GETs are signed requests of our own (botocore's signer and credentials):
        # `get_object` would cost three times the client CPU, the bulk of a small object's copy.
        byte_range = None
        if start is not None or end is not None:
            byte_range = f"bytes={first}-{'' if end is None else end - 1}"
        target = self._target(key)
        try:
            resp = retried(lambda: self._raw.get(full, byte_range), lambda exc: map_raw_error(exc, target))
        except InvalidInput:
            if first and first >= self.stat(key).size:  # a range past the end is empty, as in Python
                return BoundedReader(iter(()))
            raise
        reader = RawBody(resp, target)
        if byte_range is None:  # the whole object: its headers describe it, no HEAD needed
            reader.meta = self._meta(key, head_fields(resp.headers))
        return reader

    def write(
        self,
        key: str,
        stream: BinaryIO,
        size: int | None = None,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_absent: bool = False,
        cache_control: str | None = None,
        expected_sha256: str | None = None,
    ) -> ObjectMeta:
        """Stream into `key`: one PUT up to 8 MiB, else a multipart upload 4 parts in flight.
        Raises AlreadyExists (if_absent and the key exists), InvalidInput (bad key, size mismatch),
        PreconditionFailed (SHA-256 mismatch); nothing is written then."""
        full = self._full(key)
        target = self._target(key)
        reader = HashingReader(stream)
        # A known small size is read in one go; else one part decides between PUT and multipart.
        first = reader.read_exactly(size + 1 if size is not None and size < PART_SIZE else PART_SIZE)
        extra: dict = {"ContentType": content_type or DEFAULT_CONTENT_TYPE}
        if cache_control:
            extra["CacheControl"] = cache_control
        if len(first) < PART_SIZE:
            check_stream(reader, size, expected_sha256, target)
            meta = user_metadata(metadata, reader.hexdigest(), target)
            cond = {"IfNoneMatch": "*"} if if_absent else {}
            try:
                resp = self._call(lambda: self._s3.put_object(
                    Bucket=self._bucket, Key=full, Body=first, Metadata=meta, **extra, **cond), key)
            except PreconditionFailed as exc:
                raise AlreadyExists("object exists", target=target) from exc
            etag = resp.get("ETag", "").strip('"')
            return ObjectMeta(key=key, size=len(first), etag=etag, content_type=extra["ContentType"],
                              cache_control=cache_control, metadata=meta,
                              hashes={**md5_of(etag), "sha256": reader.hexdigest()})
        return self._write_multipart(key, full, reader, first, size, metadata, extra, if_absent, expected_sha256)

    def _write_multipart(self, key, full, reader, first, size, metadata, extra, if_absent, expected_sha256) -> ObjectMeta:
        target = self._target(key)
        if if_absent and self._exists(full):
            raise AlreadyExists("object exists", target=target)
        # An expected SHA-256 goes in up front: it is checked before the upload completes. Else
        # the digest is known only after the last part and is added by a metadata-only copy.
        upload = self._call(lambda: self._s3.create_multipart_upload(
            Bucket=self._bucket, Key=full, Metadata=user_metadata(metadata, (expected_sha256 or "pending").lower(), target),
            **extra), key)
        upload_id = upload["UploadId"]

        def put_part(number: int, data) -> dict:
            def once() -> dict:
                if hasattr(data, "seek"):
                    data.seek(0)  # a retried part is sent from its start again
                return self._s3.upload_part(Bucket=self._bucket, Key=full, UploadId=upload_id, PartNumber=number,
                                            Body=data)
            return {"PartNumber": number, "ETag": self._call(once, key)["ETag"]}

        try:
            done = upload_parts(first, reader, put_part)
            check_stream(reader, size, expected_sha256, target)
            cond = {"IfNoneMatch": "*"} if if_absent else {}
            try:
                self._call(lambda: self._s3.complete_multipart_upload(
                    Bucket=self._bucket, Key=full, UploadId=upload_id, MultipartUpload={"Parts": done}, **cond), key)
            except PreconditionFailed as exc:
                raise AlreadyExists("object exists", target=target) from exc
        except BaseException:
            try:
                self._s3.abort_multipart_upload(Bucket=self._bucket, Key=full, UploadId=upload_id)
            except (ClientError, BotoCoreError):
                pass  # the original error matters more; a lifecycle rule reaps leftovers
            raise
        if expected_sha256 is None:
            meta = user_metadata(metadata, reader.hexdigest(), target)
            self._copy_object(self._bucket, full, full, reader.bytes_read,
                              {"Metadata": meta, "MetadataDirective": "REPLACE", **extra}, key)
        return self.stat(key)

    def _exists(self, full: str) -> bool:
        try:
            self._call(lambda: self._s3.head_object(Bucket=self._bucket, Key=full))
            return True
        except NotFound:
            return False

    def _copy_object(self, src_bucket: str, src_full: str, dst_full: str, size: int, extra: dict, key: str) -> None:
        """CopyObject from `src_bucket` into this bucket; the managed multipart copy beyond 5 GiB."""
        source = {"Bucket": src_bucket, "Key": src_full}
        if size <= _COPY_LIMIT:
            self._call(lambda: self._s3.copy_object(Bucket=self._bucket, Key=dst_full, CopySource=source, **extra), key)
        else:
            self._call(lambda: self._s3.copy(source, self._bucket, dst_full, ExtraArgs=extra or None), key)

    def delete(self, keys: Iterable[str]) -> int:
        """Delete in batches of 1,000; missing keys are not an error. Raises PermissionDenied (or the
        taxonomy error of the first key the batch could not delete), InvalidInput for a bad key."""
        count = 0
        batch: list[dict] = []
        for key in keys:
            batch.append({"Key": self._full(key)})
            count += 1
            if len(batch) == _DELETE_BATCH:
                self._delete_batch(batch)
                batch = []
        if batch:
            self._delete_batch(batch)
        return count

    def _delete_batch(self, batch: list[dict]) -> None:
        resp = self._call(lambda: self._s3.delete_objects(Bucket=self._bucket, Delete={"Objects": batch, "Quiet": True}))
        failed = [e for e in resp.get("Errors", ()) if e.get("Code") != "NoSuchKey"]
        if failed:
            first = failed[0]
            err = ClientError({"Error": {"Code": first.get("Code"), "Message": first.get("Message")}}, "DeleteObjects")
            raise map_error(err, self._target(first.get("Key", "")[len(self._root):])) from err

    def copy(self, src_key: str, dst_key: str) -> ObjectMeta:
        """Server-side copy (multipart beyond 5 GiB); metadata kept. Raises NotFound for a missing
        source, InvalidInput for a bad key."""
        return self._copy_in(self, src_key, dst_key)

    def copy_from(self, source, src_key: str, dst_key: str) -> ObjectMeta | None:
        """Server-side copy from another bucket of the same connection (same client); metadata
        kept. None for any other source. Raises NotFound for a missing source object."""
        if not isinstance(source, S3Store) or source._s3 is not self._s3:
            return None
        return self._copy_in(source, src_key, dst_key)

    def _copy_in(self, source: "S3Store", src_key: str, dst_key: str) -> ObjectMeta:
        src = source.stat(src_key)  # NotFound naming the source object
        self._copy_object(
            source._bucket, source._full(src_key), self._full(dst_key), src.size, {"MetadataDirective": "COPY"}, dst_key
        )
        return self.stat(dst_key)

    def close(self) -> None:
        """Nothing to release: clients are shared per connection; raises nothing."""


def list_buckets(conn: Connection) -> list[str]:
    """Names of the account's buckets. Raises PermissionDenied."""
    s3 = client(conn, "s3")
    resp = retried(lambda: s3.list_buckets(), lambda exc: map_error(exc, f"{conn.name}: ListBuckets"))
    return sorted(b["Name"] for b in resp.get("Buckets", ()))


def create_bucket(conn: Connection, name: str) -> None:
    """Create a bucket in the connection's region; an existing one is left as it is. Raises
    InvalidInput for a bad name, PermissionDenied."""
    check_bucket_name(name)
    s3 = client(conn, "s3")
    region = conn.region or "us-east-1"
    kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    try:
        retried(lambda: s3.create_bucket(Bucket=name, **kwargs), lambda exc: map_error(exc, f"s3://{name}"))
    except AlreadyExists:
        pass
